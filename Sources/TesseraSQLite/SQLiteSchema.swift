/// The SQLite store's schema: the migrator with every migration, and the applied-migration check.

import Foundation
import GRDB
import TesseraCore

extension SQLiteStorage {
    // MARK: Schema

    /// The schema, one versioned migration after another. Never edit a shipped
    /// migration; add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
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
            try db.execute(
                sql: """
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
            try db.execute(
                sql: """
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
            try db.execute(
                sql: """
                    ALTER TABLE signing_keys ADD COLUMN activates_at REAL;
                    CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys(state) WHERE state = 'next';
                    """)
        }
        migrator.registerMigration("v5") { db in
            try db.execute(
                sql: """
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
                var scopes: [String] = try StoredJSON.decode(row["scopes"])
                guard !scopes.contains(TesseraScope.scim) else { continue }
                scopes.append(TesseraScope.scim)
                try db.execute(
                    sql: "UPDATE roles SET scopes = ? WHERE tenant_id = ? AND name = ?",
                    arguments: [try StoredJSON.encode(scopes), row["tenant_id"] as String, row["name"] as String]
                )
            }
        }
        migrator.registerMigration("v7") { db in
            // API tokens are credentials of their own kind beside client secrets, found
            // by their digest when presented.
            try db.execute(
                sql: """
                    ALTER TABLE client_secrets ADD COLUMN kind TEXT NOT NULL DEFAULT 'client_secret';
                    ALTER TABLE client_secrets ADD COLUMN description TEXT;
                    CREATE INDEX client_secrets_digest ON client_secrets(digest);
                    """)
        }
        migrator.registerMigration("v8") { db in
            // Federated credentials (docs/federation.md), found by issuer when a token
            // is exchanged; audit events say why, in words, when that needs saying.
            try db.execute(
                sql: """
                    CREATE TABLE federated_credentials (
                        id TEXT PRIMARY KEY,
                        tenant_id TEXT NOT NULL,
                        account_id TEXT NOT NULL REFERENCES service_accounts(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        issuer TEXT NOT NULL,
                        audience TEXT,
                        subject TEXT,
                        claims TEXT NOT NULL,
                        scopes TEXT,
                        jwks_uri TEXT,
                        jwks TEXT,
                        allow_without_jti INTEGER NOT NULL,
                        created_at REAL NOT NULL,
                        UNIQUE (account_id, name)
                    );
                    CREATE INDEX federated_credentials_issuer ON federated_credentials(issuer);
                    ALTER TABLE audit_events ADD COLUMN detail TEXT;
                    """)
        }
        migrator.registerMigration("v9") { db in
            // What an account's tokens must be bound to, and its tls_client_auth name
            // (docs/binding.md): JSON, NULL for an account that asks for nothing.
            try db.execute(sql: "ALTER TABLE service_accounts ADD COLUMN binding TEXT")
        }
        return migrator
    }

    /// The applied migration identifiers, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try SQLiteStorage.migrator.appliedMigrations(db) }
    }
}
