/// The SQLite store's tenants and their roles.

import Foundation
import GRDB
import TesseraCore

extension SQLiteStorage {
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
                    arguments: [stored.id.text, role.name, try StoredJSON.encode(role.scopes), role.builtin]
                )
            }
            return stored
        }
    }

    // Cached statements: every admin request under /v1/tenants/{tenant} reads its tenant.
    public func tenant(id: UUID) async throws -> Tenant? {
        try await read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM tenants WHERE id = ?"), arguments: [id.text]).map(Self.tenant)
        }
    }

    public func tenant(slug: String) async throws -> Tenant? {
        try await read { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM tenants WHERE slug = ?"), arguments: [slug]).map(Self.tenant)
        }
    }

    public func roles(tenantID: UUID) async throws -> [Role] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM roles WHERE tenant_id = ? ORDER BY name", arguments: [tenantID.text]).map { row in
                Role(name: row["name"], scopes: try StoredJSON.decode(row["scopes"]), builtin: row["builtin"])
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
                arguments: [tenantID.text, role.name, try StoredJSON.encode(role.scopes), role.builtin]
            )
        }
    }

    public func updateRole(_ role: Role, tenantID: UUID) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE roles SET scopes = ? WHERE tenant_id = ? AND name = ?",
                arguments: [try StoredJSON.encode(role.scopes), tenantID.text, role.name]
            )
            if db.changesCount == 0 { throw StoreError.notFound("role not found") }
        }
    }

    public func deleteRole(name: String, tenantID: UUID) async throws {
        try await write { db in
            let inUse =
                try Bool.fetchOne(
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

    // MARK: Rows

    private static func tenant(_ row: Row) throws -> Tenant {
        Tenant(
            id: try uuid(row["id"]), slug: row["slug"], number: row["number"], name: row["name"],
            accountLimit: row["account_limit"], tokenLifetime: row["token_lifetime"], defaultAudience: row["default_audience"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]), updatedAt: Date(timeIntervalSince1970: row["updated_at"])
        )
    }
}
