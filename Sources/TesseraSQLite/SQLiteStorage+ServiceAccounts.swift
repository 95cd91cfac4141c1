/// The SQLite store's service accounts, their secrets and API tokens, credentials lookups and usage records.

import Foundation
import GRDB
import TesseraCore

extension SQLiteStorage {
    // MARK: Service accounts

    public func createServiceAccount(_ account: ServiceAccount, secret: ClientSecret?, limit: Int?) async throws -> ServiceAccount {
        try await write { db in
            if let limit {
                let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM service_accounts WHERE tenant_id = ?", arguments: [account.tenantID.text]) ?? 0
                if count >= limit { throw StoreError.limitReached("tenant holds \(count) of \(limit) service accounts") }
            }
            var stored = account
            stored.number = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(number), 0) + 1 FROM service_accounts") ?? 1
            try db.execute(
                sql: """
                    INSERT INTO service_accounts (id, tenant_id, number, client_id, name, description, roles, groups, projects,
                        audiences, status, expires_at, token_lifetime, created_at, updated_at, created_by, last_used_at, binding)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    stored.id.text, stored.tenantID.text, stored.number, stored.clientID, stored.name, stored.description,
                    try StoredJSON.encode(stored.roles), try StoredJSON.encode(stored.groups), try StoredJSON.encode(stored.projects),
                    try StoredJSON.encode(stored.audiences), stored.status.rawValue, stored.expiresAt?.timeIntervalSince1970,
                    stored.tokenLifetime, stored.createdAt.timeIntervalSince1970, stored.updatedAt.timeIntervalSince1970,
                    stored.createdBy, stored.lastUsedAt?.timeIntervalSince1970, try Self.bindingText(stored.binding),
                ]
            )
            if let secret { try Self.insert(secret, db: db) }
            return stored
        }
    }

    public func serviceAccount(id: UUID, tenantID: UUID) async throws -> ServiceAccount? {
        try await read { db in
            try db.cachedStatement(sql: "SELECT \(Self.accountColumns) FROM service_accounts WHERE id = ? AND tenant_id = ?")
                .firstRow(arguments: [id.text, tenantID.text], Self.account)
        }
    }

    public func credentials(clientID: String) async throws -> (account: ServiceAccount, secrets: [ClientSecret])? {
        try await read { db in
            // Cached statements: the client cache's loads come through here.
            let accountQuery = try db.cachedStatement(sql: "SELECT \(Self.accountColumns) FROM service_accounts WHERE client_id = ?")
            guard let account = try accountQuery.firstRow(arguments: [clientID], Self.account) else {
                return nil
            }
            let secretsQuery = try db.cachedStatement(sql: "SELECT * FROM client_secrets WHERE account_id = ? ORDER BY created_at")
            let secrets = try Row.fetchAll(secretsQuery, arguments: [account.id.text]).map(Self.secret)
            return (account, secrets)
        }
    }

    public func clientID(ofSecret secretID: UUID) async throws -> String? {
        try await read { db in
            let query = try db.cachedStatement(
                sql: "SELECT a.client_id FROM client_secrets s JOIN service_accounts a ON a.id = s.account_id WHERE s.id = ?"
            )
            return try String.fetchOne(query, arguments: [secretID.text])
        }
    }

    public func clientID(ofAPITokenDigest digest: [UInt8]) async throws -> String? {
        try await read { db in
            let query = try db.cachedStatement(
                sql: """
                    SELECT a.client_id FROM client_secrets s JOIN service_accounts a ON a.id = s.account_id
                    WHERE s.digest = ? AND s.kind = 'api_token'
                    """
            )
            return try String.fetchOne(query, arguments: [Data(digest)])
        }
    }

    public func countServiceAccounts(tenantID: UUID) async throws -> Int {
        try await read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM service_accounts WHERE tenant_id = ?", arguments: [tenantID.text]) ?? 0
        }
    }

    public func recordUsage(accounts: [UUID: Date], secrets: [UUID: Date]) async throws {
        // A batch holds every client used since the last one (thousands at scale):
        // each statement is prepared once and run per row.
        try await write { db in
            let account = try db.cachedStatement(sql: "UPDATE service_accounts SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?")
            for (id, date) in accounts {
                try account.execute(arguments: [date.timeIntervalSince1970, id.text])
            }
            let secret = try db.cachedStatement(sql: "UPDATE client_secrets SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?")
            for (id, date) in secrets {
                try secret.execute(arguments: [date.timeIntervalSince1970, id.text])
            }
        }
    }

    public func listServiceAccounts(
        tenantID: UUID, filter: ServiceAccountFilter, afterNumber: Int?, limit: Int
    ) async throws -> [ServiceAccount] {
        try await listServiceAccounts(tenantID: tenantID, filter: filter, afterNumber: afterNumber, limit: limit) { $0 }
    }

    /// Reads the page and transforms it on the reader's worker thread (``read(_:)``).
    public func listServiceAccounts<Output: Sendable>(
        tenantID: UUID, filter: ServiceAccountFilter, afterNumber: Int?, limit: Int,
        transform: @escaping @Sendable ([ServiceAccount]) -> Output
    ) async throws -> Output {
        try await read(
            singleStatement: true, { db in try Self.listServiceAccounts(db, tenantID: tenantID, filter: filter, afterNumber: afterNumber, limit: limit) },
            then: transform)
    }

    private static func listServiceAccounts(
        _ db: Database, tenantID: UUID, filter: ServiceAccountFilter, afterNumber: Int?, limit: Int
    ) throws -> [ServiceAccount] {
        var sql = "SELECT \(Self.accountColumns) FROM service_accounts WHERE tenant_id = ? AND number > ?"
        var arguments: StatementArguments = [tenantID.text, afterNumber ?? 0]
        // Each filter given adds its condition; substr compares a prefix exactly,
        // case-sensitively and without LIKE wildcards to escape.
        let conditions: [(value: String?, sql: String, uses: Int)] = [
            (filter.status?.rawValue, " AND status = ?", 1),
            (filter.role, " AND EXISTS (SELECT 1 FROM json_each(service_accounts.roles) WHERE value = ?)", 1),
            (filter.group, " AND EXISTS (SELECT 1 FROM json_each(service_accounts.groups) WHERE value = ?)", 1),
            (filter.namePrefix, " AND substr(name, 1, length(?)) = ?", 2),
            (filter.project, " AND EXISTS (SELECT 1 FROM json_each(service_accounts.projects) WHERE json_extract(value, '$.project') = ?)", 1),
        ]
        for condition in conditions {
            guard let value = condition.value else { continue }
            sql += condition.sql
            _ = arguments.append(contentsOf: StatementArguments(Array(repeating: value, count: condition.uses)))
        }
        if let before = filter.beforeNumber {
            sql += " AND number < ? ORDER BY number DESC LIMIT ?"
            _ = arguments.append(contentsOf: [before, limit])
            return try db.cachedStatement(sql: sql).rows(arguments: arguments, Self.account).reversed()
        }
        sql += " ORDER BY number LIMIT ?"
        _ = arguments.append(contentsOf: [limit])
        // Cached: the filters make a few dozen statements at most, one per combination.
        return try db.cachedStatement(sql: sql).rows(arguments: arguments, Self.account)
    }

    public func updateServiceAccount(_ account: ServiceAccount) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE service_accounts SET name = ?, description = ?, roles = ?, groups = ?, projects = ?, audiences = ?,
                        status = ?, expires_at = ?, token_lifetime = ?, updated_at = ?, binding = ?
                    WHERE id = ? AND tenant_id = ?
                    """,
                arguments: [
                    account.name, account.description, try StoredJSON.encode(account.roles), try StoredJSON.encode(account.groups),
                    try StoredJSON.encode(account.projects), try StoredJSON.encode(account.audiences), account.status.rawValue,
                    account.expiresAt?.timeIntervalSince1970, account.tokenLifetime, account.updatedAt.timeIntervalSince1970,
                    try Self.bindingText(account.binding), account.id.text, account.tenantID.text,
                ]
            )
            if db.changesCount == 0 { throw StoreError.notFound("service account not found") }
        }
    }

    public func deleteServiceAccount(id: UUID, tenantID: UUID) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM service_accounts WHERE id = ? AND tenant_id = ?", arguments: [id.text, tenantID.text])
            return db.changesCount > 0
        }
    }

    public func secrets(accountID: UUID) async throws -> [ClientSecret] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM client_secrets WHERE account_id = ? ORDER BY created_at, id", arguments: [accountID.text]
            ).map(Self.secret)
        }
    }

    public func createSecret(_ secret: ClientSecret, limit: Int) async throws {
        try await write { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM client_secrets WHERE account_id = ?", arguments: [secret.accountID.text]) ?? 0
            if count >= limit { throw StoreError.limitReached("the account holds \(count) of \(limit) secrets") }
            try Self.insert(secret, db: db)
        }
    }

    public func updateSecret(_ secret: ClientSecret) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE client_secrets SET enabled = ? WHERE id = ? AND account_id = ?",
                arguments: [secret.enabled, secret.id.text, secret.accountID.text]
            )
            if db.changesCount == 0 { throw StoreError.notFound("secret not found") }
        }
    }

    public func deleteSecret(id: UUID, accountID: UUID) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM client_secrets WHERE id = ? AND account_id = ?", arguments: [id.text, accountID.text])
            return db.changesCount > 0
        }
    }

    // MARK: Rows

    private static func insert(_ secret: ClientSecret, db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO client_secrets (id, account_id, kind, name, description, hint, digest, scopes, enabled, created_at, expires_at, last_used_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                secret.id.text, secret.accountID.text, secret.kind.rawValue, secret.name, secret.description, secret.hint, Data(secret.digest),
                try secret.scopes.map { try StoredJSON.encode($0) }, secret.enabled, secret.createdAt.timeIntervalSince1970,
                secret.expiresAt?.timeIntervalSince1970, secret.lastUsedAt?.timeIntervalSince1970,
            ]
        )
    }

    /// The binding column: `NULL` for the default, else JSON.
    static func bindingText(_ binding: TokenBinding) throws -> String? {
        binding.isDefault ? nil : try StoredJSON.encode(binding)
    }

    /// The columns ``account(_:)`` reads, in the order it reads them: by position
    /// (``StatementRow``), since GRDB finds a column by name with a case-insensitive
    /// search, which was a sixth of the CPU of a page of accounts.
    static let accountColumns = """
        id, tenant_id, number, client_id, name, description, roles, groups, projects, audiences, status, expires_at, \
        token_lifetime, binding, created_at, updated_at, created_by, last_used_at
        """

    /// An account from a row of ``accountColumns``.
    private static func account(_ row: StatementRow) throws -> ServiceAccount {
        guard let status = ServiceAccount.Status(rawValue: row.text(10)) else {
            throw StoreError.unavailable("service_accounts row has an unknown status")
        }
        return ServiceAccount(
            id: try row.uuid(0), tenantID: try row.uuid(1), number: row.int(2), clientID: row.text(3),
            name: row.text(4), description: row.text(orNil: 5), roles: try row.withText(6, StoredJSON.strings),
            groups: try row.withText(7, StoredJSON.strings), projects: try row.withText(8, StoredJSON.projects),
            audiences: try row.withText(9, StoredJSON.strings), status: status,
            expiresAt: row.double(orNil: 11).map(Date.init(timeIntervalSince1970:)),
            tokenLifetime: row.int(orNil: 12), binding: try row.text(orNil: 13).map(StoredJSON.decode) ?? TokenBinding(),
            createdAt: Date(timeIntervalSince1970: row.double(14)), updatedAt: Date(timeIntervalSince1970: row.double(15)),
            createdBy: row.text(orNil: 16), lastUsedAt: row.double(orNil: 17).map(Date.init(timeIntervalSince1970:))
        )
    }

    private static func secret(_ row: Row) throws -> ClientSecret {
        guard let kind = ClientSecret.Kind(rawValue: row["kind"]) else { throw StoreError.unavailable("client_secrets row has an unknown kind") }
        return ClientSecret(
            id: try uuid(row["id"]), accountID: try uuid(row["account_id"]), kind: kind, name: row["name"], description: row["description"], hint: row["hint"],
            digest: Array(row["digest"] as Data), scopes: try (row["scopes"] as String?).map(StoredJSON.strings),
            enabled: row["enabled"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
            expiresAt: (row["expires_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            lastUsedAt: (row["last_used_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        )
    }
}
