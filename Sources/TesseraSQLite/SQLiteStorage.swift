import Foundation
import GRDB
import TesseraCore
import TesseraJOSE

/// The embedded default store: SQLite through GRDB, in WAL mode with
/// `synchronous=FULL`, so an acknowledged write survives a crash or power loss.
///
/// GRDB runs every statement on its own dispatch queues, off Swift's cooperative pool.
public final class SQLiteStorage: Storage {
    private let pool: DatabasePool

    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    public init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        }
        // The file holds secret digests and sealed keys: readable by the owner only.
        // SQLite gives the -wal and -shm files the same mode.
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        // GRDB switches the writer to `synchronous = NORMAL` when it turns WAL on,
        // after `prepareDatabase` ran: set FULL on the writer again, where it
        // matters (every commit then syncs the WAL), and refuse to run without it.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            guard try Int.fetchOne(db, sql: "PRAGMA synchronous") == 2 else {
                throw StoreError.unavailable("SQLite refused synchronous = FULL on the writer connection")
            }
        }
        try SQLiteStorage.migrator.migrate(pool)
    }

    /// The schema, one versioned migration after another. Never edit a shipped
    /// migration; add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE tenants (
                    id TEXT PRIMARY KEY NOT NULL,
                    slug TEXT NOT NULL UNIQUE,
                    number INTEGER NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    account_limit INTEGER,
                    token_lifetime INTEGER,
                    default_audience TEXT,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                );
                CREATE TABLE roles (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    builtin INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, name)
                );
                CREATE TABLE service_accounts (
                    id TEXT PRIMARY KEY NOT NULL,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                    number INTEGER NOT NULL UNIQUE,
                    client_id TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    description TEXT,
                    roles TEXT NOT NULL,
                    groups TEXT NOT NULL,
                    projects TEXT NOT NULL,
                    audiences TEXT NOT NULL,
                    status TEXT NOT NULL,
                    expires_at REAL,
                    token_lifetime INTEGER,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL,
                    created_by TEXT,
                    last_used_at REAL,
                    UNIQUE (tenant_id, name)
                );
                CREATE TABLE client_secrets (
                    id TEXT PRIMARY KEY NOT NULL,
                    account_id TEXT NOT NULL REFERENCES service_accounts(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    hint TEXT NOT NULL,
                    digest BLOB NOT NULL,
                    scopes TEXT,
                    enabled INTEGER NOT NULL,
                    created_at REAL NOT NULL,
                    expires_at REAL,
                    last_used_at REAL,
                    UNIQUE (account_id, name)
                );
                CREATE INDEX client_secrets_account ON client_secrets(account_id);
                CREATE TABLE signing_keys (
                    kid TEXT PRIMARY KEY NOT NULL,
                    algorithm TEXT NOT NULL,
                    public_jwk TEXT NOT NULL,
                    sealed_private_key BLOB NOT NULL,
                    state TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    activated_at REAL,
                    retired_at REAL
                );
                CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(state) WHERE state = 'active';
                """)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                CREATE TABLE audit_events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    tenant_id TEXT,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    resource_type TEXT NOT NULL,
                    resource_id TEXT,
                    outcome TEXT NOT NULL,
                    status INTEGER NOT NULL,
                    request_id TEXT,
                    at REAL NOT NULL
                );
                CREATE INDEX audit_events_tenant ON audit_events(tenant_id, id);
                CREATE INDEX service_accounts_tenant_number ON service_accounts(tenant_id, number);
                """)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: """
                CREATE TABLE revoked_tokens (
                    jti TEXT PRIMARY KEY NOT NULL,
                    tenant_id TEXT NOT NULL,
                    expires_at REAL NOT NULL,
                    revoked_at REAL NOT NULL
                );
                CREATE INDEX revoked_tokens_expiry ON revoked_tokens(expires_at);
                """)
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: """
                ALTER TABLE signing_keys ADD COLUMN activates_at REAL;
                CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys(state) WHERE state = 'next';
                """)
        }
        migrator.registerMigration("v5") { db in
            try db.execute(sql: """
                CREATE TABLE client_keys (
                    account_id TEXT NOT NULL REFERENCES service_accounts(id) ON DELETE CASCADE,
                    kid TEXT NOT NULL,
                    jwk TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    expires_at REAL,
                    PRIMARY KEY (account_id, kid)
                );
                CREATE TABLE used_assertions (
                    client_id TEXT NOT NULL,
                    jti TEXT NOT NULL,
                    expires_at REAL NOT NULL,
                    PRIMARY KEY (client_id, jti)
                );
                CREATE INDEX used_assertions_expiry ON used_assertions(expires_at);
                """)
        }
        migrator.registerMigration("v6") { db in
            // The built-in administrator roles gained `scim` (SCIM-restricted secrets
            // need a role that carries it); tenants created before get it too.
            let rows = try Row.fetchAll(
                db, sql: "SELECT tenant_id, name, scopes FROM roles WHERE builtin = 1 AND name IN ('super_admin', 'owner', 'admin')"
            )
            for row in rows {
                var scopes: [String] = try JSONColumn.decode(row["scopes"])
                guard !scopes.contains(TesseraScope.scim) else { continue }
                scopes.append(TesseraScope.scim)
                try db.execute(
                    sql: "UPDATE roles SET scopes = ? WHERE tenant_id = ? AND name = ?",
                    arguments: [try JSONColumn.encode(scopes), row["tenant_id"] as String, row["name"] as String]
                )
            }
        }
        migrator.registerMigration("v7") { db in
            // API tokens are credentials of their own kind beside client secrets, found
            // by their digest when presented.
            try db.execute(sql: """
                ALTER TABLE client_secrets ADD COLUMN kind TEXT NOT NULL DEFAULT 'client_secret';
                ALTER TABLE client_secrets ADD COLUMN description TEXT;
                CREATE INDEX client_secrets_digest ON client_secrets(digest);
                """)
        }
        return migrator
    }

    /// The applied migration identifiers, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try SQLiteStorage.migrator.appliedMigrations(db) }
    }

    /// The value of a PRAGMA as text, as a reader connection sees it (for diagnostics and tests).
    /// A pragma as the writer connection, which makes every commit, sees it.
    func pragma(_ name: String) throws -> String? {
        try pool.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
    }

    /// A pragma as a reader connection sees it.
    func readerPragma(_ name: String) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
    }

    // MARK: Tenants

    public func createTenant(_ tenant: Tenant, roles: [Role]) async throws -> Tenant {
        try await write { db in
            var stored = tenant
            stored.number = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(number), 0) + 1 FROM tenants") ?? 1
            try db.execute(
                sql: """
                    INSERT INTO tenants (id, slug, number, name, account_limit, token_lifetime, default_audience, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    stored.id.text, stored.slug, stored.number, stored.name, stored.accountLimit, stored.tokenLifetime,
                    stored.defaultAudience, stored.createdAt.timeIntervalSince1970, stored.updatedAt.timeIntervalSince1970,
                ]
            )
            for role in roles {
                try db.execute(
                    sql: "INSERT INTO roles (tenant_id, name, scopes, builtin) VALUES (?, ?, ?, ?)",
                    arguments: [stored.id.text, role.name, try JSONColumn.encode(role.scopes), role.builtin]
                )
            }
            return stored
        }
    }

    public func tenant(id: UUID) async throws -> Tenant? {
        try await read { db in try Row.fetchOne(db, sql: "SELECT * FROM tenants WHERE id = ?", arguments: [id.text]).map(Self.tenant) }
    }

    public func tenant(slug: String) async throws -> Tenant? {
        try await read { db in try Row.fetchOne(db, sql: "SELECT * FROM tenants WHERE slug = ?", arguments: [slug]).map(Self.tenant) }
    }

    public func roles(tenantID: UUID) async throws -> [Role] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM roles WHERE tenant_id = ? ORDER BY name", arguments: [tenantID.text]).map { row in
                Role(name: row["name"], scopes: try JSONColumn.decode(row["scopes"]), builtin: row["builtin"])
            }
        }
    }

    public func listTenants(afterNumber: Int?, limit: Int) async throws -> [Tenant] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM tenants WHERE number > ? ORDER BY number LIMIT ?", arguments: [afterNumber ?? 0, limit]
            ).map(Self.tenant)
        }
    }

    public func updateTenant(_ tenant: Tenant) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE tenants SET name = ?, account_limit = ?, token_lifetime = ?, default_audience = ?, updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [
                    tenant.name, tenant.accountLimit, tenant.tokenLifetime, tenant.defaultAudience,
                    tenant.updatedAt.timeIntervalSince1970, tenant.id.text,
                ]
            )
            if db.changesCount == 0 { throw StoreError.notFound("tenant not found") }
        }
    }

    public func createRole(_ role: Role, tenantID: UUID) async throws {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO roles (tenant_id, name, scopes, builtin) VALUES (?, ?, ?, ?)",
                arguments: [tenantID.text, role.name, try JSONColumn.encode(role.scopes), role.builtin]
            )
        }
    }

    public func updateRole(_ role: Role, tenantID: UUID) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE roles SET scopes = ? WHERE tenant_id = ? AND name = ?",
                arguments: [try JSONColumn.encode(role.scopes), tenantID.text, role.name]
            )
            if db.changesCount == 0 { throw StoreError.notFound("role not found") }
        }
    }

    public func deleteRole(name: String, tenantID: UUID) async throws {
        try await write { db in
            let inUse = try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM service_accounts, json_each(service_accounts.roles) AS r
                                   WHERE service_accounts.tenant_id = ?1 AND r.value = ?2)
                        OR EXISTS (SELECT 1 FROM service_accounts, json_each(service_accounts.projects) AS p
                                   WHERE service_accounts.tenant_id = ?1 AND json_extract(p.value, '$.role') = ?2)
                    """,
                arguments: [tenantID.text, name]
            ) ?? false
            if inUse { throw StoreError.conflict("role \"\(name)\" is held by a service account") }
            try db.execute(sql: "DELETE FROM roles WHERE tenant_id = ? AND name = ?", arguments: [tenantID.text, name])
            if db.changesCount == 0 { throw StoreError.notFound("role not found") }
        }
    }

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
                        audiences, status, expires_at, token_lifetime, created_at, updated_at, created_by, last_used_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    stored.id.text, stored.tenantID.text, stored.number, stored.clientID, stored.name, stored.description,
                    try JSONColumn.encode(stored.roles), try JSONColumn.encode(stored.groups), try JSONColumn.encode(stored.projects),
                    try JSONColumn.encode(stored.audiences), stored.status.rawValue, stored.expiresAt?.timeIntervalSince1970,
                    stored.tokenLifetime, stored.createdAt.timeIntervalSince1970, stored.updatedAt.timeIntervalSince1970,
                    stored.createdBy, stored.lastUsedAt?.timeIntervalSince1970,
                ]
            )
            if let secret { try Self.insert(secret, db: db) }
            return stored
        }
    }

    public func serviceAccount(id: UUID, tenantID: UUID) async throws -> ServiceAccount? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM service_accounts WHERE id = ? AND tenant_id = ?", arguments: [id.text, tenantID.text])
                .map(Self.account)
        }
    }

    public func credentials(clientID: String) async throws -> (account: ServiceAccount, secrets: [ClientSecret])? {
        try await read { db in
            // Cached statements: the client cache's loads come through here.
            let accountQuery = try db.cachedStatement(sql: "SELECT * FROM service_accounts WHERE client_id = ?")
            guard let row = try Row.fetchOne(accountQuery, arguments: [clientID]) else {
                return nil
            }
            let account = try Self.account(row)
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
        try await read { db in
            var sql = "SELECT * FROM service_accounts WHERE tenant_id = ? AND number > ?"
            var arguments: StatementArguments = [tenantID.text, afterNumber ?? 0]
            if let status = filter.status {
                sql += " AND status = ?"
                _ = arguments.append(contentsOf: [status.rawValue])
            }
            if let role = filter.role {
                sql += " AND EXISTS (SELECT 1 FROM json_each(service_accounts.roles) WHERE value = ?)"
                _ = arguments.append(contentsOf: [role])
            }
            if let group = filter.group {
                sql += " AND EXISTS (SELECT 1 FROM json_each(service_accounts.groups) WHERE value = ?)"
                _ = arguments.append(contentsOf: [group])
            }
            if let prefix = filter.namePrefix {
                // substr comparison: exact, case-sensitive, and no LIKE wildcards to escape.
                sql += " AND substr(name, 1, length(?)) = ?"
                _ = arguments.append(contentsOf: [prefix, prefix])
            }
            if let project = filter.project {
                sql += " AND EXISTS (SELECT 1 FROM json_each(service_accounts.projects) WHERE json_extract(value, '$.project') = ?)"
                _ = arguments.append(contentsOf: [project])
            }
            if let before = filter.beforeNumber {
                sql += " AND number < ? ORDER BY number DESC LIMIT ?"
                _ = arguments.append(contentsOf: [before, limit])
                return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.account).reversed()
            }
            sql += " ORDER BY number LIMIT ?"
            _ = arguments.append(contentsOf: [limit])
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.account)
        }
    }

    public func updateServiceAccount(_ account: ServiceAccount) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE service_accounts SET name = ?, description = ?, roles = ?, groups = ?, projects = ?, audiences = ?,
                        status = ?, expires_at = ?, token_lifetime = ?, updated_at = ?
                    WHERE id = ? AND tenant_id = ?
                    """,
                arguments: [
                    account.name, account.description, try JSONColumn.encode(account.roles), try JSONColumn.encode(account.groups),
                    try JSONColumn.encode(account.projects), try JSONColumn.encode(account.audiences), account.status.rawValue,
                    account.expiresAt?.timeIntervalSince1970, account.tokenLifetime, account.updatedAt.timeIntervalSince1970,
                    account.id.text, account.tenantID.text,
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

    // MARK: Audit

    public func appendAuditEvent(_ event: AuditEvent) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO audit_events (tenant_id, actor, action, resource_type, resource_id, outcome, status, request_id, at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    event.tenantID?.text, event.actor, event.action, event.resourceType, event.resourceID,
                    event.outcome.rawValue, event.status, event.requestID, event.at.timeIntervalSince1970,
                ]
            )
        }
    }

    public func auditEvents(tenantID: UUID, filter: AuditFilter, beforeID: Int64?, limit: Int) async throws -> [AuditEvent] {
        try await read { db in
            var sql = "SELECT * FROM audit_events WHERE tenant_id = ? AND id < ?"
            var arguments: StatementArguments = [tenantID.text, beforeID ?? Int64.max]
            for (column, value) in [("action", filter.action), ("actor", filter.actor), ("resource_id", filter.resourceID), ("outcome", filter.outcome?.rawValue)] {
                if let value {
                    sql += " AND \(column) = ?"
                    _ = arguments.append(contentsOf: [value])
                }
            }
            sql += " ORDER BY id DESC LIMIT ?"
            _ = arguments.append(contentsOf: [limit])
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                AuditEvent(
                    id: row["id"], tenantID: (row["tenant_id"] as String?).flatMap(UUID.init(uuidString:)), actor: row["actor"],
                    action: row["action"], resourceType: row["resource_type"], resourceID: row["resource_id"],
                    outcome: AuditEvent.Outcome(rawValue: row["outcome"]) ?? .failure, status: row["status"],
                    requestID: row["request_id"], at: Date(timeIntervalSince1970: row["at"])
                )
            }
        }
    }

    // MARK: Revocation

    public func revokeToken(jti: String, tenantID: UUID, expiresAt: Date, revokedAt: Date) async throws {
        try await write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO revoked_tokens (jti, tenant_id, expires_at, revoked_at) VALUES (?, ?, ?, ?)",
                arguments: [jti, tenantID.text, expiresAt.timeIntervalSince1970, revokedAt.timeIntervalSince1970]
            )
        }
    }

    public func isTokenRevoked(jti: String) async throws -> Bool {
        try await read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?)", arguments: [jti]) ?? false
        }
    }

    @discardableResult
    public func purgeRevokedTokens(expiredBefore date: Date) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM revoked_tokens WHERE expires_at < ?", arguments: [date.timeIntervalSince1970])
            return db.changesCount
        }
    }

    public func revokedTokens(expiringAfter date: Date, limit: Int) async throws -> [(jti: String, expiresAt: Date)] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= ? LIMIT ?",
                arguments: [date.timeIntervalSince1970, limit]
            ).map { (jti: $0["jti"], expiresAt: Date(timeIntervalSince1970: $0["expires_at"])) }
        }
    }

    // MARK: Client keys

    public func clientKeys(accountID: UUID) async throws -> [ClientKey] {
        try await read { db in
            let query = try db.cachedStatement(sql: "SELECT * FROM client_keys WHERE account_id = ? ORDER BY created_at, kid")
            return try Row.fetchAll(query, arguments: [accountID.text]).map { row in
                ClientKey(
                    accountID: try Self.uuid(row["account_id"]), kid: row["kid"], jwk: try JSONColumn.decode(row["jwk"]),
                    createdAt: Date(timeIntervalSince1970: row["created_at"]),
                    expiresAt: (row["expires_at"] as Double?).map(Date.init(timeIntervalSince1970:))
                )
            }
        }
    }

    public func addClientKey(_ key: ClientKey, limit: Int) async throws {
        try await write { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM client_keys WHERE account_id = ?", arguments: [key.accountID.text]) ?? 0
            if count >= limit { throw StoreError.limitReached("the account holds \(count) of \(limit) keys") }
            try db.execute(
                sql: "INSERT INTO client_keys (account_id, kid, jwk, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    key.accountID.text, key.kid, try JSONColumn.encode(key.jwk), key.createdAt.timeIntervalSince1970,
                    key.expiresAt?.timeIntervalSince1970,
                ]
            )
        }
    }

    public func deleteClientKey(kid: String, accountID: UUID) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM client_keys WHERE account_id = ? AND kid = ?", arguments: [accountID.text, kid])
            return db.changesCount > 0
        }
    }

    public func useAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO used_assertions (client_id, jti, expires_at) VALUES (?, ?, ?)",
                arguments: [clientID, jti, expiresAt.timeIntervalSince1970]
            )
            return db.changesCount > 0
        }
    }

    @discardableResult
    public func purgeAssertionIDs(expiredBefore date: Date) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM used_assertions WHERE expires_at < ?", arguments: [date.timeIntervalSince1970])
            return db.changesCount
        }
    }

    // MARK: Signing keys

    public func signingKeys() async throws -> [StoredSigningKey] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM signing_keys ORDER BY created_at DESC").map { row in
                guard let algorithm = JWSAlgorithm(rawValue: row["algorithm"]),
                      let state = StoredSigningKey.State(rawValue: row["state"])
                else {
                    throw StoreError.unavailable("signing_keys row has an unknown algorithm or state")
                }
                return StoredSigningKey(
                    kid: row["kid"], algorithm: algorithm,
                    publicJWK: try JSONDecoder().decode(JWK.self, from: Data((row["public_jwk"] as String).utf8)),
                    sealedPrivateKey: Array(row["sealed_private_key"] as Data), state: state,
                    createdAt: Date(timeIntervalSince1970: row["created_at"]),
                    activatedAt: (row["activated_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    retiredAt: (row["retired_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    activatesAt: (row["activates_at"] as Double?).map(Date.init(timeIntervalSince1970:))
                )
            }
        }
    }

    public func insertSigningKey(_ key: StoredSigningKey) async throws -> Bool {
        do {
            try await write { db in
                try db.execute(
                    sql: """
                        INSERT INTO signing_keys (kid, algorithm, public_jwk, sealed_private_key, state, created_at, activated_at, retired_at,
                            activates_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        key.kid, key.algorithm.rawValue, String(decoding: try JSONEncoder().encode(key.publicJWK), as: UTF8.self),
                        Data(key.sealedPrivateKey), key.state.rawValue, key.createdAt.timeIntervalSince1970,
                        key.activatedAt?.timeIntervalSince1970, key.retiredAt?.timeIntervalSince1970,
                        key.activatesAt?.timeIntervalSince1970,
                    ]
                )
            }
            return true
        } catch let error as StoreError where error.isConflict {
            return false
        }
    }

    // MARK: Health

    public func ping() async throws {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func promoteSigningKey(kid: String, now: Date) async throws -> Bool {
        try await write { db in
            let isNext = try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM signing_keys WHERE kid = ? AND state = 'next')", arguments: [kid]
            ) ?? false
            guard isNext else { return false }
            try db.execute(
                sql: "UPDATE signing_keys SET state = 'retired', retired_at = ? WHERE state = 'active'",
                arguments: [now.timeIntervalSince1970]
            )
            try db.execute(
                sql: "UPDATE signing_keys SET state = 'active', activated_at = ? WHERE kid = ?", arguments: [now.timeIntervalSince1970, kid]
            )
            return true
        }
    }

    public func deleteSigningKey(kid: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM signing_keys WHERE kid = ? AND state = 'retired'", arguments: [kid])
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
                try secret.scopes.map { try JSONColumn.encode($0) }, secret.enabled, secret.createdAt.timeIntervalSince1970,
                secret.expiresAt?.timeIntervalSince1970, secret.lastUsedAt?.timeIntervalSince1970,
            ]
        )
    }

    private static func tenant(_ row: Row) throws -> Tenant {
        Tenant(
            id: try uuid(row["id"]), slug: row["slug"], number: row["number"], name: row["name"],
            accountLimit: row["account_limit"], tokenLifetime: row["token_lifetime"], defaultAudience: row["default_audience"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]), updatedAt: Date(timeIntervalSince1970: row["updated_at"])
        )
    }

    private static func account(_ row: Row) throws -> ServiceAccount {
        guard let status = ServiceAccount.Status(rawValue: row["status"]) else {
            throw StoreError.unavailable("service_accounts row has an unknown status")
        }
        return ServiceAccount(
            id: try uuid(row["id"]), tenantID: try uuid(row["tenant_id"]), number: row["number"], clientID: row["client_id"],
            name: row["name"], description: row["description"], roles: try JSONColumn.strings(row["roles"]),
            groups: try JSONColumn.strings(row["groups"]), projects: try JSONColumn.decode(row["projects"]),
            audiences: try JSONColumn.strings(row["audiences"]), status: status,
            expiresAt: (row["expires_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            tokenLifetime: row["token_lifetime"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]), updatedAt: Date(timeIntervalSince1970: row["updated_at"]),
            createdBy: row["created_by"], lastUsedAt: (row["last_used_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        )
    }

    private static func secret(_ row: Row) throws -> ClientSecret {
        guard let kind = ClientSecret.Kind(rawValue: row["kind"]) else { throw StoreError.unavailable("client_secrets row has an unknown kind") }
        return ClientSecret(
            id: try uuid(row["id"]), accountID: try uuid(row["account_id"]), kind: kind, name: row["name"], description: row["description"], hint: row["hint"],
            digest: Array(row["digest"] as Data), scopes: try (row["scopes"] as String?).map(JSONColumn.strings),
            enabled: row["enabled"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
            expiresAt: (row["expires_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            lastUsedAt: (row["last_used_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        )
    }

    private static func uuid(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw StoreError.unavailable("stored id \"\(text)\" is not a UUID") }
        return id
    }

    // MARK: Access

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.translate(error)
        }
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw Self.translate(error)
        }
    }

    private static func translate(_ error: any Error) -> any Error {
        if error is StoreError { return error }
        if let error = error as? DatabaseError {
            if error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE || error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
                return StoreError.conflict("a unique value is already taken")
            }
            if error.extendedResultCode == .SQLITE_CONSTRAINT_FOREIGNKEY {
                return StoreError.notFound("a referenced row does not exist")
            }
            return StoreError.unavailable("SQLite error \(error.resultCode.rawValue)")
        }
        return error
    }
}

extension UUID {
    /// The lower-case text form stored in the database.
    var text: String { lowercased }
}

/// Arrays and small structures stored as JSON text.
enum JSONColumn {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    /// A list of strings, read without `JSONDecoder`: every client the token
    /// endpoint loads has four of them.
    static func strings(_ text: String) throws -> [String] {
        guard let strings = try? JSONValue.parse(Array(text.utf8)).strings else {
            throw StoreError.unavailable("a stored list is not a JSON array of strings")
        }
        return strings
    }
}
