import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization
import TesseraCore
import TesseraJOSE

/// The PostgreSQL store, shared by several Tessera replicas (docs/design.md §1).
///
/// Every write is one transaction; writes that change what a cache holds also
/// `NOTIFY` the channel ``channel`` in that transaction, so every replica hears of
/// a change exactly when it is committed (``followChanges(_:)``). Numbers come
/// from sequences; per-tenant and per-account limits hold under concurrency by
/// locking the owning row first. Times are stored as seconds since 1970 in
/// `double precision`, as in the SQLite store, so both give back the same `Date`s.
public final class PostgresStorage: Storage, ChangeFeed {
    /// The `LISTEN/NOTIFY` channel for cache invalidation.
    public static let channel = "tessera_changes"
    /// The advisory lock that serialises signing-key rotation across replicas.
    static let rotationLock: Int64 = 0x7465_7373_6572_61 // "tessera"

    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

    /// Connects a pool to `url` (`postgres://user:password@host:port/database?sslmode=…`,
    /// sslmode `disable`, `prefer` (the default) or `require`). The pool connects
    /// lazily and reconnects by itself; nothing is queried until a call is made.
    public init(url: String, logger: Logger = Logger(label: "tessera.postgres")) throws {
        let configuration = try Self.configuration(url)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        // PostgresClient leases connections only while its run() is running.
        runner = Task { await client.run() }
    }

    deinit {
        runner.cancel()
    }

    /// Closes the pool.
    public func shutdown() {
        runner.cancel()
    }

    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty
        else {
            throw StoreError.unavailable("the database URL must look like postgres://user:password@host:5432/database")
        }
        guard let user = components.user, !user.isEmpty else {
            throw StoreError.unavailable("the database URL must name a user: postgres://user@host/database")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw StoreError.unavailable("sslmode must be disable, prefer or require")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 }, database: database.isEmpty ? nil : database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    // MARK: Migrations

    /// The schema, one versioned step after another; never edit a shipped step.
    static let migrations: [(id: String, sql: [String])] = [
        ("v1", [
            """
            CREATE TABLE tenants (
                id UUID PRIMARY KEY,
                slug TEXT NOT NULL UNIQUE,
                number BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
                name TEXT NOT NULL,
                account_limit BIGINT,
                token_lifetime BIGINT,
                default_audience TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE TABLE roles (
                tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                scopes JSONB NOT NULL,
                builtin BOOLEAN NOT NULL,
                PRIMARY KEY (tenant_id, name)
            )
            """,
            """
            CREATE TABLE service_accounts (
                id UUID PRIMARY KEY,
                tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                number BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
                client_id TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                description TEXT,
                roles JSONB NOT NULL,
                groups JSONB NOT NULL,
                projects JSONB NOT NULL,
                audiences JSONB NOT NULL,
                status TEXT NOT NULL,
                expires_at DOUBLE PRECISION,
                token_lifetime BIGINT,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                created_by TEXT,
                last_used_at DOUBLE PRECISION,
                UNIQUE (tenant_id, name)
            )
            """,
            "CREATE INDEX service_accounts_tenant_number ON service_accounts(tenant_id, number)",
            """
            CREATE TABLE client_secrets (
                id UUID PRIMARY KEY,
                account_id UUID NOT NULL REFERENCES service_accounts(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                hint TEXT NOT NULL,
                digest BYTEA NOT NULL,
                scopes JSONB,
                enabled BOOLEAN NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION,
                last_used_at DOUBLE PRECISION,
                UNIQUE (account_id, name)
            )
            """,
            """
            CREATE TABLE signing_keys (
                kid TEXT PRIMARY KEY,
                algorithm TEXT NOT NULL,
                public_jwk TEXT NOT NULL,
                sealed_private_key BYTEA NOT NULL,
                state TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                activated_at DOUBLE PRECISION,
                retired_at DOUBLE PRECISION,
                activates_at DOUBLE PRECISION
            )
            """,
            "CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(state) WHERE state = 'active'",
            "CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys(state) WHERE state = 'next'",
            """
            CREATE TABLE audit_events (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                tenant_id UUID,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                resource_type TEXT NOT NULL,
                resource_id TEXT,
                outcome TEXT NOT NULL,
                status BIGINT NOT NULL,
                request_id TEXT,
                at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX audit_events_tenant ON audit_events(tenant_id, id)",
            """
            CREATE TABLE revoked_tokens (
                jti TEXT PRIMARY KEY,
                tenant_id UUID NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                revoked_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX revoked_tokens_expiry ON revoked_tokens(expires_at)",
            """
            CREATE TABLE client_keys (
                account_id UUID NOT NULL REFERENCES service_accounts(id) ON DELETE CASCADE,
                kid TEXT NOT NULL,
                jwk TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION,
                PRIMARY KEY (account_id, kid)
            )
            """,
            """
            CREATE TABLE used_assertions (
                client_id TEXT NOT NULL,
                jti TEXT NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (client_id, jti)
            )
            """,
            "CREATE INDEX used_assertions_expiry ON used_assertions(expires_at)",
        ]),
        // The PostgreSQL store began with SQLite's v1 to v6 in its v1; these ids keep
        // both stores' histories on the same numbering from here on.
        ("v2", []), ("v3", []), ("v4", []), ("v5", []), ("v6", []),
        ("v7", [
            // API tokens are credentials of their own kind beside client secrets,
            // found by their digest when presented.
            "ALTER TABLE client_secrets ADD COLUMN kind TEXT NOT NULL DEFAULT 'client_secret'",
            "ALTER TABLE client_secrets ADD COLUMN description TEXT",
            "CREATE INDEX client_secrets_digest ON client_secrets(digest)",
        ]),
    ]

    /// Every migration this build knows, oldest first.
    public static var migrationIDs: [String] { migrations.map(\.id) }

    /// Applies the migrations not applied yet, each in its own transaction, under
    /// an advisory lock so replicas starting together migrate once. Returns the
    /// identifiers applied now.
    @discardableResult
    public func migrate() async throws -> [String] {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.rotationLock + 1))", logger: self.logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS tessera_migrations (id TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
                logger: self.logger
            )
            let done = Set(try await self.rows(connection, "SELECT id FROM tessera_migrations").map { try $0["id"].decode(String.self) })
            var applied: [String] = []
            for migration in Self.migrations where !done.contains(migration.id) {
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                let now = Date().timeIntervalSince1970
                try await connection.query("INSERT INTO tessera_migrations (id, applied_at) VALUES (\(migration.id), \(now))", logger: self.logger)
                applied.append(migration.id)
            }
            return applied
        }
    }

    /// The applied migration identifiers, oldest first; empty for a new database.
    public func appliedMigrations() async throws -> [String] {
        try await transaction { connection in
            let exists = try await self.rows(connection, "SELECT to_regclass('tessera_migrations') IS NOT NULL AS present")
            guard try exists.first?["present"].decode(Bool.self) == true else { return [] }
            return try await self.rows(connection, "SELECT id FROM tessera_migrations ORDER BY id").map { try $0["id"].decode(String.self) }
        }
    }

    // MARK: Tenants

    public func createTenant(_ tenant: Tenant, roles: [Role]) async throws -> Tenant {
        try await transaction { connection in
            let inserted = try await self.rows(connection, """
                INSERT INTO tenants (id, slug, name, account_limit, token_lifetime, default_audience, created_at, updated_at)
                VALUES (\(tenant.id), \(tenant.slug), \(tenant.name), \(tenant.accountLimit), \(tenant.tokenLifetime),
                        \(tenant.defaultAudience), \(tenant.createdAt.timeIntervalSince1970), \(tenant.updatedAt.timeIntervalSince1970))
                RETURNING number
                """)
            var stored = tenant
            stored.number = try inserted[0]["number"].decode(Int.self)
            for role in roles {
                try await connection.query(
                    "INSERT INTO roles (tenant_id, name, scopes, builtin) VALUES (\(tenant.id), \(role.name), \(try JSONText.encode(role.scopes))::jsonb, \(role.builtin))",
                    logger: self.logger
                )
            }
            return stored
        }
    }

    public func tenant(id: UUID) async throws -> Tenant? {
        try await query("SELECT * FROM tenants WHERE id = \(id)").first.map(Self.tenant)
    }

    public func tenant(slug: String) async throws -> Tenant? {
        try await query("SELECT * FROM tenants WHERE slug = \(slug)").first.map(Self.tenant)
    }

    public func roles(tenantID: UUID) async throws -> [Role] {
        try await query("SELECT name, scopes::text AS scopes, builtin FROM roles WHERE tenant_id = \(tenantID) ORDER BY name").map { row in
            Role(name: try row["name"].decode(String.self), scopes: try JSONText.decode(row["scopes"].decode(String.self)), builtin: try row["builtin"].decode(Bool.self))
        }
    }

    public func listTenants(afterNumber: Int?, limit: Int) async throws -> [Tenant] {
        try await query("SELECT * FROM tenants WHERE number > \(afterNumber ?? 0) ORDER BY number LIMIT \(limit)").map(Self.tenant)
    }

    public func updateTenant(_ tenant: Tenant) async throws {
        try await transaction { connection in
            let updated = try await self.rows(connection, """
                UPDATE tenants SET name = \(tenant.name), account_limit = \(tenant.accountLimit), token_lifetime = \(tenant.tokenLifetime),
                    default_audience = \(tenant.defaultAudience), updated_at = \(tenant.updatedAt.timeIntervalSince1970)
                WHERE id = \(tenant.id) RETURNING id
                """)
            if updated.isEmpty { throw StoreError.notFound("tenant not found") }
            try await self.notify(connection, .everything)
        }
    }

    public func createRole(_ role: Role, tenantID: UUID) async throws {
        try await transaction { connection in
            try await connection.query(
                "INSERT INTO roles (tenant_id, name, scopes, builtin) VALUES (\(tenantID), \(role.name), \(try JSONText.encode(role.scopes))::jsonb, \(role.builtin))",
                logger: self.logger
            )
            // Replicas cache each tenant's role catalogue.
            try await self.notify(connection, .everything)
        }
    }

    public func updateRole(_ role: Role, tenantID: UUID) async throws {
        try await transaction { connection in
            let updated = try await self.rows(connection, """
                UPDATE roles SET scopes = \(try JSONText.encode(role.scopes))::jsonb WHERE tenant_id = \(tenantID) AND name = \(role.name) RETURNING name
                """)
            if updated.isEmpty { throw StoreError.notFound("role not found") }
            try await self.notify(connection, .everything)
        }
    }

    public func deleteRole(name: String, tenantID: UUID) async throws {
        try await transaction { connection in
            // Lock the role so no account is granted it between the check and the delete.
            let role = try await self.rows(connection, "SELECT name FROM roles WHERE tenant_id = \(tenantID) AND name = \(name) FOR UPDATE")
            if role.isEmpty { throw StoreError.notFound("role not found") }
            let inUse = try await self.rows(connection, """
                SELECT EXISTS (
                    SELECT 1 FROM service_accounts
                    WHERE tenant_id = \(tenantID)
                      AND (roles ? \(name) OR EXISTS (SELECT 1 FROM jsonb_array_elements(projects) AS p WHERE p->>'role' = \(name)))
                ) AS held
                """)
            if try inUse[0]["held"].decode(Bool.self) { throw StoreError.conflict("role \"\(name)\" is held by a service account") }
            try await connection.query("DELETE FROM roles WHERE tenant_id = \(tenantID) AND name = \(name)", logger: self.logger)
            try await self.notify(connection, .everything)
        }
    }

    // MARK: Service accounts

    public func createServiceAccount(_ account: ServiceAccount, secret: ClientSecret?, limit: Int?) async throws -> ServiceAccount {
        try await transaction { connection in
            // Locking the tenant row serialises creations in the tenant, so the limit holds.
            let tenant = try await self.rows(connection, "SELECT id FROM tenants WHERE id = \(account.tenantID) FOR UPDATE")
            if tenant.isEmpty { throw StoreError.notFound("tenant not found") }
            if let limit {
                let count = try await self.rows(connection, "SELECT COUNT(*) AS n FROM service_accounts WHERE tenant_id = \(account.tenantID)")
                let held = try count[0]["n"].decode(Int.self)
                if held >= limit { throw StoreError.limitReached("tenant holds \(held) of \(limit) service accounts") }
            }
            let inserted = try await self.rows(connection, """
                INSERT INTO service_accounts (id, tenant_id, client_id, name, description, roles, groups, projects, audiences, status,
                    expires_at, token_lifetime, created_at, updated_at, created_by, last_used_at)
                VALUES (\(account.id), \(account.tenantID), \(account.clientID), \(account.name), \(account.description),
                    \(try JSONText.encode(account.roles))::jsonb, \(try JSONText.encode(account.groups))::jsonb,
                    \(try JSONText.encode(account.projects))::jsonb, \(try JSONText.encode(account.audiences))::jsonb,
                    \(account.status.rawValue), \(account.expiresAt?.timeIntervalSince1970), \(account.tokenLifetime),
                    \(account.createdAt.timeIntervalSince1970), \(account.updatedAt.timeIntervalSince1970), \(account.createdBy),
                    \(account.lastUsedAt?.timeIntervalSince1970))
                RETURNING number
                """)
            var stored = account
            stored.number = try inserted[0]["number"].decode(Int.self)
            if let secret { try await self.insert(secret, connection) }
            // A replica may have cached this client id as unknown.
            try await self.notify(connection, .client(account.clientID))
            return stored
        }
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

    public func updateServiceAccount(_ account: ServiceAccount) async throws {
        try await transaction { connection in
            let updated = try await self.rows(connection, """
                UPDATE service_accounts SET name = \(account.name), description = \(account.description),
                    roles = \(try JSONText.encode(account.roles))::jsonb, groups = \(try JSONText.encode(account.groups))::jsonb,
                    projects = \(try JSONText.encode(account.projects))::jsonb, audiences = \(try JSONText.encode(account.audiences))::jsonb,
                    status = \(account.status.rawValue), expires_at = \(account.expiresAt?.timeIntervalSince1970),
                    token_lifetime = \(account.tokenLifetime), updated_at = \(account.updatedAt.timeIntervalSince1970)
                WHERE id = \(account.id) AND tenant_id = \(account.tenantID)
                RETURNING client_id
                """)
            guard let row = updated.first else { throw StoreError.notFound("service account not found") }
            try await self.notify(connection, .client(try row["client_id"].decode(String.self)))
        }
    }

    public func deleteServiceAccount(id: UUID, tenantID: UUID) async throws -> Bool {
        try await transaction { connection in
            let deleted = try await self.rows(connection, "DELETE FROM service_accounts WHERE id = \(id) AND tenant_id = \(tenantID) RETURNING client_id")
            guard let row = deleted.first else { return false }
            try await self.notify(connection, .client(try row["client_id"].decode(String.self)))
            return true
        }
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
            let updated = try await self.rows(connection, """
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

    // MARK: Audit

    public func appendAuditEvent(_ event: AuditEvent) async throws {
        try await transaction { connection in
            try await connection.query("""
                INSERT INTO audit_events (tenant_id, actor, action, resource_type, resource_id, outcome, status, request_id, at)
                VALUES (\(event.tenantID), \(event.actor), \(event.action), \(event.resourceType), \(event.resourceID),
                        \(event.outcome.rawValue), \(event.status), \(event.requestID), \(event.at.timeIntervalSince1970))
                """, logger: self.logger)
        }
    }

    public func auditEvents(tenantID: UUID, filter: AuditFilter, beforeID: Int64?, limit: Int) async throws -> [AuditEvent] {
        let base: PostgresQuery = "SELECT * FROM audit_events WHERE tenant_id = \(tenantID) AND id < \(beforeID ?? Int64.max)"
        var binds = base.binds
        var text = base.sql
        for (column, value) in [("action", filter.action), ("actor", filter.actor), ("resource_id", filter.resourceID), ("outcome", filter.outcome?.rawValue)] {
            if let value {
                binds.append(value, context: .default)
                text += " AND \(column) = $\(binds.count)"
            }
        }
        binds.append(limit, context: .default)
        text += " ORDER BY id DESC LIMIT $\(binds.count)"
        return try await query(PostgresQuery(unsafeSQL: text, binds: binds)).map { row in
            AuditEvent(
                id: try row["id"].decode(Int64.self), tenantID: try row["tenant_id"].decode(UUID?.self), actor: try row["actor"].decode(String.self),
                action: try row["action"].decode(String.self), resourceType: try row["resource_type"].decode(String.self),
                resourceID: try row["resource_id"].decode(String?.self),
                outcome: AuditEvent.Outcome(rawValue: try row["outcome"].decode(String.self)) ?? .failure,
                status: try row["status"].decode(Int.self), requestID: try row["request_id"].decode(String?.self),
                at: Date(timeIntervalSince1970: try row["at"].decode(Double.self))
            )
        }
    }

    // MARK: Revocation

    public func revokeToken(jti: String, tenantID: UUID, expiresAt: Date, revokedAt: Date) async throws {
        try await transaction { connection in
            try await connection.query("""
                INSERT INTO revoked_tokens (jti, tenant_id, expires_at, revoked_at)
                VALUES (\(jti), \(tenantID), \(expiresAt.timeIntervalSince1970), \(revokedAt.timeIntervalSince1970))
                ON CONFLICT (jti) DO NOTHING
                """, logger: self.logger)
        }
    }

    public func isTokenRevoked(jti: String) async throws -> Bool {
        try await query("SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = \(jti)) AS revoked")[0]["revoked"].decode(Bool.self)
    }

    @discardableResult
    public func purgeRevokedTokens(expiredBefore date: Date) async throws -> Int {
        try await query("WITH gone AS (DELETE FROM revoked_tokens WHERE expires_at < \(date.timeIntervalSince1970) RETURNING 1) SELECT COUNT(*) AS n FROM gone")[0]["n"].decode(Int.self)
    }

    public func revokedTokens(expiringAfter date: Date, limit: Int) async throws -> [(jti: String, expiresAt: Date)] {
        try await query("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= \(date.timeIntervalSince1970) LIMIT \(limit)").map { row in
            (jti: try row["jti"].decode(String.self), expiresAt: Date(timeIntervalSince1970: try row["expires_at"].decode(Double.self)))
        }
    }

    // MARK: Client keys

    public func clientKeys(accountID: UUID) async throws -> [ClientKey] {
        try await query("SELECT * FROM client_keys WHERE account_id = \(accountID) ORDER BY created_at, kid").map { row in
            ClientKey(
                accountID: try row["account_id"].decode(UUID.self), kid: try row["kid"].decode(String.self),
                jwk: try JSONText.decode(row["jwk"].decode(String.self)),
                createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
                expiresAt: try row["expires_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:))
            )
        }
    }

    public func addClientKey(_ key: ClientKey, limit: Int) async throws {
        try await transaction { connection in
            let clientID = try await self.lockAccount(key.accountID, connection)
            let count = try await self.rows(connection, "SELECT COUNT(*) AS n FROM client_keys WHERE account_id = \(key.accountID)")
            let held = try count[0]["n"].decode(Int.self)
            if held >= limit { throw StoreError.limitReached("the account holds \(held) of \(limit) keys") }
            try await connection.query("""
                INSERT INTO client_keys (account_id, kid, jwk, created_at, expires_at)
                VALUES (\(key.accountID), \(key.kid), \(try JSONText.encode(key.jwk)), \(key.createdAt.timeIntervalSince1970),
                        \(key.expiresAt?.timeIntervalSince1970))
                """, logger: self.logger)
            try await self.notify(connection, .client(clientID))
        }
    }

    public func deleteClientKey(kid: String, accountID: UUID) async throws -> Bool {
        try await transaction { connection in
            let deleted = try await self.rows(connection, "DELETE FROM client_keys WHERE account_id = \(accountID) AND kid = \(kid) RETURNING kid")
            guard !deleted.isEmpty else { return false }
            try await self.notifyAccount(accountID, connection)
            return true
        }
    }

    public func useAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool {
        let inserted = try await query("""
            INSERT INTO used_assertions (client_id, jti, expires_at) VALUES (\(clientID), \(jti), \(expiresAt.timeIntervalSince1970))
            ON CONFLICT (client_id, jti) DO NOTHING RETURNING jti
            """)
        return !inserted.isEmpty
    }

    @discardableResult
    public func purgeAssertionIDs(expiredBefore date: Date) async throws -> Int {
        try await query("WITH gone AS (DELETE FROM used_assertions WHERE expires_at < \(date.timeIntervalSince1970) RETURNING 1) SELECT COUNT(*) AS n FROM gone")[0]["n"].decode(Int.self)
    }

    // MARK: Signing keys

    public func signingKeys() async throws -> [StoredSigningKey] {
        try await query("SELECT * FROM signing_keys ORDER BY created_at DESC").map { row in
            guard let algorithm = JWSAlgorithm(rawValue: try row["algorithm"].decode(String.self)),
                  let state = StoredSigningKey.State(rawValue: try row["state"].decode(String.self))
            else {
                throw StoreError.unavailable("signing_keys row has an unknown algorithm or state")
            }
            return StoredSigningKey(
                kid: try row["kid"].decode(String.self), algorithm: algorithm,
                publicJWK: try JSONText.decode(row["public_jwk"].decode(String.self)),
                sealedPrivateKey: Array(try row["sealed_private_key"].decode(Data.self)), state: state,
                createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
                activatedAt: try row["activated_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
                retiredAt: try row["retired_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
                activatesAt: try row["activates_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:))
            )
        }
    }

    /// Inserts a key under the rotation lock, so of replicas rotating at once exactly
    /// one stores its key; the others get false (the unique indexes agree).
    public func insertSigningKey(_ key: StoredSigningKey) async throws -> Bool {
        do {
            return try await insertSigningKeyLocked(key)
        } catch let error as StoreError where error.isConflict {
            return false
        }
    }

    private func insertSigningKeyLocked(_ key: StoredSigningKey) async throws -> Bool {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.rotationLock))", logger: self.logger)
            let taken = try await self.rows(connection, "SELECT EXISTS (SELECT 1 FROM signing_keys WHERE state = \(key.state.rawValue) AND state <> 'retired') AS taken")
            if try taken[0]["taken"].decode(Bool.self) { return false }
            try await connection.query("""
                INSERT INTO signing_keys (kid, algorithm, public_jwk, sealed_private_key, state, created_at, activated_at, retired_at, activates_at)
                VALUES (\(key.kid), \(key.algorithm.rawValue), \(try JSONText.encode(key.publicJWK)), \(Data(key.sealedPrivateKey)),
                        \(key.state.rawValue), \(key.createdAt.timeIntervalSince1970), \(key.activatedAt?.timeIntervalSince1970),
                        \(key.retiredAt?.timeIntervalSince1970), \(key.activatesAt?.timeIntervalSince1970))
                """, logger: self.logger)
            try await self.notify(connection, .signingKeys)
            return true
        }
    }

    public func promoteSigningKey(kid: String, now: Date) async throws -> Bool {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.rotationLock))", logger: self.logger)
            let next = try await self.rows(connection, "SELECT kid FROM signing_keys WHERE kid = \(kid) AND state = 'next'")
            guard !next.isEmpty else { return false }
            try await connection.query(
                "UPDATE signing_keys SET state = 'retired', retired_at = \(now.timeIntervalSince1970) WHERE state = 'active'", logger: self.logger
            )
            try await connection.query(
                "UPDATE signing_keys SET state = 'active', activated_at = \(now.timeIntervalSince1970) WHERE kid = \(kid)", logger: self.logger
            )
            try await self.notify(connection, .signingKeys)
            return true
        }
    }

    public func deleteSigningKey(kid: String) async throws {
        try await transaction { connection in
            let deleted = try await self.rows(connection, "DELETE FROM signing_keys WHERE kid = \(kid) AND state = 'retired' RETURNING kid")
            if !deleted.isEmpty { try await self.notify(connection, .signingKeys) }
        }
    }

    // MARK: Health

    public func ping() async throws {
        _ = try await query("SELECT 1 AS one")
    }

    // MARK: Changes

    public func followChanges(_ handle: @escaping @Sendable (StoreChange) async -> Void) async throws {
        do {
            try await client.withConnection { connection in
                try await connection.listen(on: Self.channel) { notifications in
                    // Listening now: whatever changed before is unknown, so start afresh.
                    await handle(.everything)
                    for try await notification in notifications {
                        guard let change = StoreChange(payload: notification.payload) else { continue }
                        await handle(change)
                    }
                }
            }
        } catch {
            throw Self.translate(error)
        }
    }

    private func notify(_ connection: PostgresConnection, _ change: StoreChange) async throws {
        try await connection.query("SELECT pg_notify(\(Self.channel), \(change.payload))", logger: logger)
    }

    private func notifyAccount(_ accountID: UUID, _ connection: PostgresConnection) async throws {
        let found = try await rows(connection, "SELECT client_id FROM service_accounts WHERE id = \(accountID)")
        if let row = found.first { try await notify(connection, .client(try row["client_id"].decode(String.self))) }
    }

    /// Locks an account row for the rest of the transaction; its client id, or `notFound`.
    private func lockAccount(_ accountID: UUID, _ connection: PostgresConnection) async throws -> String {
        let found = try await rows(connection, "SELECT client_id FROM service_accounts WHERE id = \(accountID) FOR UPDATE")
        guard let row = found.first else { throw StoreError.notFound("service account not found") }
        return try row["client_id"].decode(String.self)
    }

    // MARK: Rows

    private static let accountColumns = """
        id, tenant_id, number, client_id, name, description, roles::text AS roles, groups::text AS groups, projects::text AS projects,
        audiences::text AS audiences, status, expires_at, token_lifetime, created_at, updated_at, created_by, last_used_at
        """
    private static let secretColumns = "id, account_id, kind, name, description, hint, digest, scopes::text AS scopes, enabled, created_at, expires_at, last_used_at"

    private func insert(_ secret: ClientSecret, _ connection: PostgresConnection) async throws {
        try await connection.query("""
            INSERT INTO client_secrets (id, account_id, kind, name, description, hint, digest, scopes, enabled, created_at, expires_at, last_used_at)
            VALUES (\(secret.id), \(secret.accountID), \(secret.kind.rawValue), \(secret.name), \(secret.description), \(secret.hint), \(Data(secret.digest)),
                    \(try secret.scopes.map { try JSONText.encode($0) })::jsonb, \(secret.enabled), \(secret.createdAt.timeIntervalSince1970),
                    \(secret.expiresAt?.timeIntervalSince1970), \(secret.lastUsedAt?.timeIntervalSince1970))
            """, logger: logger)
    }

    private static func tenant(_ row: PostgresRandomAccessRow) throws -> Tenant {
        Tenant(
            id: try row["id"].decode(UUID.self), slug: try row["slug"].decode(String.self), number: try row["number"].decode(Int.self),
            name: try row["name"].decode(String.self), accountLimit: try row["account_limit"].decode(Int?.self),
            tokenLifetime: try row["token_lifetime"].decode(Int?.self), defaultAudience: try row["default_audience"].decode(String?.self),
            createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
            updatedAt: Date(timeIntervalSince1970: try row["updated_at"].decode(Double.self))
        )
    }

    private static func account(_ row: PostgresRandomAccessRow) throws -> ServiceAccount {
        guard let status = ServiceAccount.Status(rawValue: try row["status"].decode(String.self)) else {
            throw StoreError.unavailable("service_accounts row has an unknown status")
        }
        return ServiceAccount(
            id: try row["id"].decode(UUID.self), tenantID: try row["tenant_id"].decode(UUID.self), number: try row["number"].decode(Int.self),
            clientID: try row["client_id"].decode(String.self), name: try row["name"].decode(String.self),
            description: try row["description"].decode(String?.self), roles: try JSONText.decode(row["roles"].decode(String.self)),
            groups: try JSONText.decode(row["groups"].decode(String.self)), projects: try JSONText.decode(row["projects"].decode(String.self)),
            audiences: try JSONText.decode(row["audiences"].decode(String.self)), status: status,
            expiresAt: try row["expires_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            tokenLifetime: try row["token_lifetime"].decode(Int?.self),
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
            scopes: try row["scopes"].decode(String?.self).map { try JSONText.decode($0) }, enabled: try row["enabled"].decode(Bool.self),
            createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
            expiresAt: try row["expires_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            lastUsedAt: try row["last_used_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:))
        )
    }

    // MARK: Access

    /// How long a call may wait for the database, a connection included: while
    /// PostgreSQL is down the pool would wait for a connection indefinitely, and
    /// callers must get `unavailable` (503) instead.
    static let deadline: Duration = .seconds(5)

    /// One statement on a pooled connection; its rows, collected.
    private func query(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        do {
            return try await Self.bounded { [client, logger] in
                try await client.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
            }
        } catch {
            throw Self.translate(error)
        }
    }

    /// Runs `body`, or throws `unavailable` once ``deadline`` passes (cancelling it).
    ///
    /// The caller is answered at the deadline even if `body` ignores its
    /// cancellation: a query sent as the server shuts down can wait on a
    /// connection that never answers, and a task group would wait for it forever
    /// (its scope awaits every child), holding the request and the shutdown. The
    /// abandoned work is cancelled and finishes on its own.
    static func bounded<T: Sendable>(
        deadline: Duration = deadline, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let work = Task { try await body() }
        let answered = FirstAnswer()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                @Sendable func answer(_ result: Result<T, any Error>) {
                    guard answered.claim() else { return }
                    continuation.resume(with: result)
                }
                let timer = Task {
                    try? await Task.sleep(for: deadline)
                    guard !Task.isCancelled else { return }
                    work.cancel()
                    answer(.failure(StoreError.unavailable("PostgreSQL did not answer within \(deadline)")))
                }
                Task {
                    let result = await work.result
                    timer.cancel()
                    answer(result)
                }
            }
        } onCancel: {
            work.cancel()
        }
    }

    private func rows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    /// Runs `body` in one transaction on one connection: committed when it returns,
    /// rolled back when it throws, so a failed write never half-applies.
    @discardableResult
    private func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await Self.bounded { try await self.run(body) }
        } catch {
            throw Self.translate(error)
        }
    }

    private func run<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: self.logger)
                let value: T
                do {
                    value = try await body(connection)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: self.logger)
                    throw error
                }
                try await connection.query("COMMIT", logger: self.logger)
                return value
            }
        } catch {
            throw Self.translate(error)
        }
    }

    static func translate(_ error: any Error) -> any Error {
        if error is StoreError || error is CancellationError { return error }
        if let error = error as? PSQLError {
            switch error.serverInfo?[.sqlState] {
            case PostgresError.Code.uniqueViolation.raw: return StoreError.conflict("a unique value is already taken")
            case PostgresError.Code.foreignKeyViolation.raw: return StoreError.notFound("a referenced row does not exist")
            case let state?: return StoreError.unavailable("PostgreSQL error \(state)")
            case nil: return StoreError.unavailable("PostgreSQL is unreachable (\(error.code))")
            }
        }
        return StoreError.unavailable("PostgreSQL failed: \(String(describing: type(of: error)))")
    }
}

extension StoreChange {
    /// The `NOTIFY` payload: `client:<id>`, `keys` or `all`.
    var payload: String {
        switch self {
        case .client(let clientID): "client:" + clientID
        case .everything: "all"
        case .signingKeys: "keys"
        }
    }

    init?(payload: String) {
        if payload == "all" {
            self = .everything
        } else if payload == "keys" {
            self = .signingKeys
        } else if payload.hasPrefix("client:") {
            self = .client(String(payload.dropFirst("client:".count)))
        } else {
            return nil
        }
    }
}

/// Arrays and small structures stored as JSON text.
enum JSONText {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }
}

/// Lets exactly one of several racing tasks answer a continuation.
private final class FirstAnswer: Sendable {
    private let claimed = Mutex(false)

    /// `true` for the first caller only.
    func claim() -> Bool {
        claimed.withLock { done in
            defer { done = true }
            return !done
        }
    }
}
