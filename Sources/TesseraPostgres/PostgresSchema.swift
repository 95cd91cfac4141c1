/// The PostgreSQL store's schema: the migrations list, migrate and appliedMigrations.

import Foundation
import PostgresNIO
import TesseraCore

extension PostgresStorage {
    // MARK: Migrations

    /// The schema, one versioned step after another; never edit a shipped step.
    static let migrations: [(id: String, sql: [String])] = [
        (
            "v1",
            [
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
            ]
        ),
        // The PostgreSQL store began with SQLite's v1 to v6 in its v1; these ids keep
        // both stores' histories on the same numbering from here on.
        ("v2", []), ("v3", []), ("v4", []), ("v5", []), ("v6", []),
        (
            "v7",
            [
                // API tokens are credentials of their own kind beside client secrets,
                // found by their digest when presented.
                "ALTER TABLE client_secrets ADD COLUMN kind TEXT NOT NULL DEFAULT 'client_secret'",
                "ALTER TABLE client_secrets ADD COLUMN description TEXT",
                "CREATE INDEX client_secrets_digest ON client_secrets(digest)",
            ]
        ),
        (
            "v8",
            [
                // Federated credentials (docs/federation.md), found by issuer when a
                // token is exchanged; audit events say why, in words, when that needs saying.
                """
                CREATE TABLE federated_credentials (
                    id UUID PRIMARY KEY,
                    tenant_id UUID NOT NULL,
                    account_id UUID NOT NULL REFERENCES service_accounts(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    issuer TEXT NOT NULL,
                    audience TEXT,
                    subject TEXT,
                    claims TEXT NOT NULL,
                    scopes TEXT,
                    jwks_uri TEXT,
                    jwks TEXT,
                    allow_without_jti BOOLEAN NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    UNIQUE (account_id, name)
                )
                """,
                "CREATE INDEX federated_credentials_issuer ON federated_credentials(issuer)",
                "ALTER TABLE audit_events ADD COLUMN detail TEXT",
            ]
        ),
        (
            "v9",
            [
                // What an account's tokens must be bound to, and its tls_client_auth
                // name (docs/binding.md): JSON, NULL for an account that asks for nothing.
                "ALTER TABLE service_accounts ADD COLUMN binding TEXT"
            ]
        ),
    ]

    /// Every migration this build knows, oldest first.
    public static var migrationIDs: [String] { migrations.map(\.id) }

    /// Applies the migrations not applied yet, in one transaction, under
    /// an advisory lock so replicas starting together migrate once. Returns the
    /// identifiers applied now.
    ///
    /// An unreachable database fails within the ordinary ``deadline``; the
    /// migration itself, waiting for another replica's included, has
    /// ``migrationDeadline``.
    @discardableResult
    public func migrate() async throws -> [String] {
        try await ping()
        return try await transaction(deadline: Self.migrationDeadline) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: self.logger)
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
}
