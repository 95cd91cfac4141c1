/// The PostgreSQL store's service accounts, their secrets and API tokens, credentials lookups and usage records.

import Foundation
import PostgresNIO
import TesseraCore

extension PostgresStorage {
    // MARK: Service accounts

    /// One statement inserts the account, its secret and the notification; without
    /// a limit it commits on its own, with one it follows the tenant's lock and count
    /// in a transaction. A tenant that does not exist fails the account's foreign key.
    public func createServiceAccount(_ account: ServiceAccount, secret: ClientSecret?, limit: Int?) async throws -> ServiceAccount {
        let insert = try Self.insertion(of: account, secret: secret)
        let inserted: [PostgresRandomAccessRow]
        do {
            if let limit {
                inserted = try await transaction { connection in
                    // Locking the tenant row serialises creations in the tenant, so the limit holds.
                    let tenant = try await self.rows(connection, "SELECT id FROM tenants WHERE id = \(account.tenantID) FOR UPDATE")
                    if tenant.isEmpty { throw StoreError.notFound("tenant not found") }
                    let count = try await self.rows(connection, "SELECT COUNT(*) AS n FROM service_accounts WHERE tenant_id = \(account.tenantID)")
                    let held = try count[0]["n"].decode(Int.self)
                    if held >= limit { throw StoreError.limitReached("tenant holds \(held) of \(limit) service accounts") }
                    return try await self.rows(connection, insert)
                }
            } else {
                inserted = try await query(insert)
            }
        } catch let error as StoreError where error.isNotFound {
            throw StoreError.notFound("tenant not found")
        }
        var stored = account
        stored.number = try inserted[0]["number"].decode(Int.self)
        return stored
    }

    /// The account's row, its secret's when there is one, and the notification
    /// (a replica may have cached this client id as unknown), as one statement.
    private static func insertion(of account: ServiceAccount, secret: ClientSecret?) throws -> PostgresQuery {
        try """
        WITH account AS (
            INSERT INTO service_accounts (id, tenant_id, client_id, name, description, roles, groups, projects, audiences, status,
                expires_at, token_lifetime, created_at, updated_at, created_by, last_used_at, binding)
            VALUES (\(account.id), \(account.tenantID), \(account.clientID), \(account.name), \(account.description),
                \(try StoredJSON.encode(account.roles))::jsonb, \(try StoredJSON.encode(account.groups))::jsonb,
                \(try StoredJSON.encode(account.projects))::jsonb, \(try StoredJSON.encode(account.audiences))::jsonb,
                \(account.status.rawValue), \(account.expiresAt?.timeIntervalSince1970), \(account.tokenLifetime),
                \(account.createdAt.timeIntervalSince1970), \(account.updatedAt.timeIntervalSince1970), \(account.createdBy),
                \(account.lastUsedAt?.timeIntervalSince1970), \(try bindingText(account.binding)))
            RETURNING number
        ), secret AS (
            INSERT INTO client_secrets (\(unescaped: Self.secretInsertColumns))
            SELECT \(secret?.id), \(account.id), \(secret?.kind.rawValue), \(secret?.name), \(secret?.description), \(secret?.hint),
                \(secret.map { Data($0.digest) }), \(try secret?.scopes.map { try StoredJSON.encode($0) })::jsonb, \(secret?.enabled),
                \(secret?.createdAt.timeIntervalSince1970), \(secret?.expiresAt?.timeIntervalSince1970), \(secret?.lastUsedAt?.timeIntervalSince1970)
            FROM account WHERE \(secret != nil)
        )
        SELECT number, pg_notify(\(Self.channel), \(StoreChange.client(account.clientID).payload)) FROM account
        """
    }

    public func serviceAccount(id: UUID, tenantID: UUID) async throws -> ServiceAccount? {
        try await query("SELECT \(unescaped: Self.accountColumns) FROM service_accounts WHERE id = \(id) AND tenant_id = \(tenantID)").first.map(Self.account)
    }

    public func clientID(ofSecret secretID: UUID) async throws -> String? {
        try await query(
            "SELECT a.client_id FROM client_secrets s JOIN service_accounts a ON a.id = s.account_id WHERE s.id = \(secretID)"
        ).first.map { try $0["client_id"].decode(String.self) }
    }

    public func clientID(ofAPITokenDigest digest: [UInt8]) async throws -> String? {
        try await query(
            """
            SELECT a.client_id FROM client_secrets s JOIN service_accounts a ON a.id = s.account_id
            WHERE s.digest = \(Data(digest)) AND s.kind = 'api_token'
            """
        ).first.map { try $0["client_id"].decode(String.self) }
    }

    public func credentials(clientID: String) async throws -> (account: ServiceAccount, secrets: [ClientSecret])? {
        try await transaction { connection in
            let found = try await self.rows(connection, "SELECT \(unescaped: Self.accountColumns) FROM service_accounts WHERE client_id = \(clientID)")
            guard let row = found.first else { return nil }
            let account = try Self.account(row)
            let secrets = try await self.rows(
                connection, "SELECT \(unescaped: Self.secretColumns) FROM client_secrets WHERE account_id = \(account.id) ORDER BY created_at, id"
            ).map(Self.secret)
            return (account, secrets)
        }
    }

    public func countServiceAccounts(tenantID: UUID) async throws -> Int {
        try await query("SELECT COUNT(*) AS n FROM service_accounts WHERE tenant_id = \(tenantID)")[0]["n"].decode(Int.self)
    }

    public func recordUsage(accounts: [UUID: Date], secrets: [UUID: Date]) async throws {
        guard !accounts.isEmpty || !secrets.isEmpty else { return }
        try await transaction { connection in
            for (id, date) in accounts {
                try await connection.query(
                    "UPDATE service_accounts SET last_used_at = GREATEST(COALESCE(last_used_at, 0), \(date.timeIntervalSince1970)) WHERE id = \(id)",
                    logger: self.logger
                )
            }
            for (id, date) in secrets {
                try await connection.query(
                    "UPDATE client_secrets SET last_used_at = GREATEST(COALESCE(last_used_at, 0), \(date.timeIntervalSince1970)) WHERE id = \(id)",
                    logger: self.logger
                )
            }
        }
    }

    public func listServiceAccounts(tenantID: UUID, filter: ServiceAccountFilter, afterNumber: Int?, limit: Int) async throws -> [ServiceAccount] {
        var sql: PostgresQuery = "SELECT \(unescaped: Self.accountColumns) FROM service_accounts WHERE tenant_id = \(tenantID) AND number > \(afterNumber ?? 0)"
        var binds = sql.binds
        var text = sql.sql
        func add(_ clause: (Int) -> String, _ value: String) {
            binds.append(value, context: .default)
            text += clause(binds.count)
        }
        if let status = filter.status { add({ " AND status = $\($0)" }, status.rawValue) }
        if let role = filter.role { add({ " AND roles ? $\($0)" }, role) }
        if let group = filter.group { add({ " AND groups ? $\($0)" }, group) }
        // left(): exact and case-sensitive, with no LIKE wildcards to escape.
        if let prefix = filter.namePrefix { add({ " AND left(name, char_length($\($0))) = $\($0)" }, prefix) }
        if let project = filter.project { add({ " AND projects @> jsonb_build_array(jsonb_build_object('project', $\($0)::text))" }, project) }
        if let before = filter.beforeNumber {
            binds.append(before, context: .default)
            text += " AND number < $\(binds.count)"
        }
        binds.append(limit, context: .default)
        text += " ORDER BY number \(filter.beforeNumber == nil ? "" : "DESC ")LIMIT $\(binds.count)"
        sql = PostgresQuery(unsafeSQL: text, binds: binds)
        let accounts = try await query(sql).map(Self.account)
        return filter.beforeNumber == nil ? accounts : accounts.reversed()
    }

    /// The update and its notification as one statement, which commits on its own.
    public func updateServiceAccount(_ account: ServiceAccount) async throws {
        let updated = try await query(
            """
            WITH updated AS (
                UPDATE service_accounts SET name = \(account.name), description = \(account.description),
                    roles = \(try StoredJSON.encode(account.roles))::jsonb, groups = \(try StoredJSON.encode(account.groups))::jsonb,
                    projects = \(try StoredJSON.encode(account.projects))::jsonb, audiences = \(try StoredJSON.encode(account.audiences))::jsonb,
                    status = \(account.status.rawValue), expires_at = \(account.expiresAt?.timeIntervalSince1970),
                    token_lifetime = \(account.tokenLifetime), updated_at = \(account.updatedAt.timeIntervalSince1970),
                    binding = \(try Self.bindingText(account.binding))
                WHERE id = \(account.id) AND tenant_id = \(account.tenantID)
                RETURNING client_id
            )
            SELECT pg_notify(\(Self.channel), \(StoreChange.clientPrefix) || client_id) FROM updated
            """)
        if updated.isEmpty { throw StoreError.notFound("service account not found") }
    }

    /// The deletion and its notification as one statement, which commits on its own.
    public func deleteServiceAccount(id: UUID, tenantID: UUID) async throws -> Bool {
        let deleted = try await query(
            """
            WITH deleted AS (DELETE FROM service_accounts WHERE id = \(id) AND tenant_id = \(tenantID) RETURNING client_id)
            SELECT pg_notify(\(Self.channel), \(StoreChange.clientPrefix) || client_id) FROM deleted
            """)
        return !deleted.isEmpty
    }

    public func secrets(accountID: UUID) async throws -> [ClientSecret] {
        try await query("SELECT \(unescaped: Self.secretColumns) FROM client_secrets WHERE account_id = \(accountID) ORDER BY created_at, id").map(Self.secret)
    }

    public func createSecret(_ secret: ClientSecret, limit: Int) async throws {
        try await transaction { connection in
            let clientID = try await self.lockAccount(secret.accountID, connection)
            let count = try await self.rows(connection, "SELECT COUNT(*) AS n FROM client_secrets WHERE account_id = \(secret.accountID)")
            let held = try count[0]["n"].decode(Int.self)
            if held >= limit { throw StoreError.limitReached("the account holds \(held) of \(limit) secrets") }
            try await self.insert(secret, connection)
            try await self.notify(connection, .client(clientID))
        }
    }

    public func updateSecret(_ secret: ClientSecret) async throws {
        try await transaction { connection in
            let updated = try await self.rows(
                connection,
                """
                UPDATE client_secrets SET enabled = \(secret.enabled) WHERE id = \(secret.id) AND account_id = \(secret.accountID) RETURNING id
                """)
            if updated.isEmpty { throw StoreError.notFound("secret not found") }
            try await self.notifyAccount(secret.accountID, connection)
        }
    }

    public func deleteSecret(id: UUID, accountID: UUID) async throws -> Bool {
        try await transaction { connection in
            let deleted = try await self.rows(connection, "DELETE FROM client_secrets WHERE id = \(id) AND account_id = \(accountID) RETURNING id")
            guard !deleted.isEmpty else { return false }
            try await self.notifyAccount(accountID, connection)
            return true
        }
    }

    /// Locks an account row for the rest of the transaction; its client id, or `notFound`.
    func lockAccount(_ accountID: UUID, _ connection: PostgresConnection) async throws -> String {
        let found = try await rows(connection, "SELECT client_id FROM service_accounts WHERE id = \(accountID) FOR UPDATE")
        guard let row = found.first else { throw StoreError.notFound("service account not found") }
        return try row["client_id"].decode(String.self)
    }

    // MARK: Rows

    private static let accountColumns = """
        id, tenant_id, number, client_id, name, description, roles::text AS roles, groups::text AS groups, projects::text AS projects,
        audiences::text AS audiences, status, expires_at, token_lifetime, created_at, updated_at, created_by, last_used_at,
        binding
        """
    /// The columns a secret is written to, in the order both insertions give them.
    private static let secretInsertColumns = "id, account_id, kind, name, description, hint, digest, scopes, enabled, created_at, expires_at, last_used_at"
    private static let secretColumns =
        "id, account_id, kind, name, description, hint, digest, scopes::text AS scopes, enabled, created_at, expires_at, last_used_at"

    private func insert(_ secret: ClientSecret, _ connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO client_secrets (\(unescaped: Self.secretInsertColumns))
            VALUES (\(secret.id), \(secret.accountID), \(secret.kind.rawValue), \(secret.name), \(secret.description), \(secret.hint), \(Data(secret.digest)),
                    \(try secret.scopes.map { try StoredJSON.encode($0) })::jsonb, \(secret.enabled), \(secret.createdAt.timeIntervalSince1970),
                    \(secret.expiresAt?.timeIntervalSince1970), \(secret.lastUsedAt?.timeIntervalSince1970))
            """, logger: logger)
    }

    /// The binding column: `NULL` for the default, else JSON.
    static func bindingText(_ binding: TokenBinding) throws -> String? {
        binding.isDefault ? nil : try StoredJSON.encode(binding)
    }

    private static func account(_ row: PostgresRandomAccessRow) throws -> ServiceAccount {
        guard let status = ServiceAccount.Status(rawValue: try row["status"].decode(String.self)) else {
            throw StoreError.unavailable("service_accounts row has an unknown status")
        }
        return ServiceAccount(
            id: try row["id"].decode(UUID.self), tenantID: try row["tenant_id"].decode(UUID.self), number: try row["number"].decode(Int.self),
            clientID: try row["client_id"].decode(String.self), name: try row["name"].decode(String.self),
            description: try row["description"].decode(String?.self), roles: try StoredJSON.strings(row["roles"].decode(String.self)),
            groups: try StoredJSON.strings(row["groups"].decode(String.self)), projects: try StoredJSON.projects(row["projects"].decode(String.self)),
            audiences: try StoredJSON.strings(row["audiences"].decode(String.self)), status: status,
            expiresAt: try row["expires_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            tokenLifetime: try row["token_lifetime"].decode(Int?.self),
            binding: try row["binding"].decode(String?.self).map { try StoredJSON.decode($0) } ?? TokenBinding(),
            createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
            updatedAt: Date(timeIntervalSince1970: try row["updated_at"].decode(Double.self)),
            createdBy: try row["created_by"].decode(String?.self),
            lastUsedAt: try row["last_used_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:))
        )
    }

    private static func secret(_ row: PostgresRandomAccessRow) throws -> ClientSecret {
        guard let kind = ClientSecret.Kind(rawValue: try row["kind"].decode(String.self)) else {
            throw StoreError.unavailable("client_secrets row has an unknown kind")
        }
        return ClientSecret(
            id: try row["id"].decode(UUID.self), accountID: try row["account_id"].decode(UUID.self), kind: kind, name: try row["name"].decode(String.self),
            description: try row["description"].decode(String?.self),
            hint: try row["hint"].decode(String.self), digest: Array(try row["digest"].decode(Data.self)),
            scopes: try row["scopes"].decode(String?.self).map { try StoredJSON.decode($0) }, enabled: try row["enabled"].decode(Bool.self),
            createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
            expiresAt: try row["expires_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            lastUsedAt: try row["last_used_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:))
        )
    }
}
