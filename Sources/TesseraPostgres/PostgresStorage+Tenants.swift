/// The PostgreSQL store's tenants and their roles.

import Foundation
import PostgresNIO
import TesseraCore

extension PostgresStorage {
    // MARK: Tenants

    public func createTenant(_ tenant: Tenant, roles: [Role]) async throws -> Tenant {
        try await transaction { connection in
            let inserted = try await self.rows(
                connection,
                """
                INSERT INTO tenants (id, slug, name, account_limit, token_lifetime, default_audience, created_at, updated_at)
                VALUES (\(tenant.id), \(tenant.slug), \(tenant.name), \(tenant.accountLimit), \(tenant.tokenLifetime),
                        \(tenant.defaultAudience), \(tenant.createdAt.timeIntervalSince1970), \(tenant.updatedAt.timeIntervalSince1970))
                RETURNING number
                """)
            var stored = tenant
            stored.number = try inserted[0]["number"].decode(Int.self)
            for role in roles {
                try await connection.query(
                    "INSERT INTO roles (tenant_id, name, scopes, builtin) VALUES (\(tenant.id), \(role.name), \(try StoredJSON.encode(role.scopes))::jsonb, \(role.builtin))",
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
            Role(
                name: try row["name"].decode(String.self), scopes: try StoredJSON.decode(row["scopes"].decode(String.self)),
                builtin: try row["builtin"].decode(Bool.self))
        }
    }

    public func listTenants(afterNumber: Int?, limit: Int) async throws -> [Tenant] {
        try await query("SELECT * FROM tenants WHERE number > \(afterNumber ?? 0) ORDER BY number LIMIT \(limit)").map(Self.tenant)
    }

    public func updateTenant(_ tenant: Tenant) async throws {
        try await transaction { connection in
            let updated = try await self.rows(
                connection,
                """
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
                "INSERT INTO roles (tenant_id, name, scopes, builtin) VALUES (\(tenantID), \(role.name), \(try StoredJSON.encode(role.scopes))::jsonb, \(role.builtin))",
                logger: self.logger
            )
            // Replicas cache each tenant's role catalogue.
            try await self.notify(connection, .everything)
        }
    }

    public func updateRole(_ role: Role, tenantID: UUID) async throws {
        try await transaction { connection in
            let updated = try await self.rows(
                connection,
                """
                UPDATE roles SET scopes = \(try StoredJSON.encode(role.scopes))::jsonb WHERE tenant_id = \(tenantID) AND name = \(role.name) RETURNING name
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
            let inUse = try await self.rows(
                connection,
                """
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

    // MARK: Rows

    private static func tenant(_ row: PostgresRandomAccessRow) throws -> Tenant {
        Tenant(
            id: try row["id"].decode(UUID.self), slug: try row["slug"].decode(String.self), number: try row["number"].decode(Int.self),
            name: try row["name"].decode(String.self), accountLimit: try row["account_limit"].decode(Int?.self),
            tokenLifetime: try row["token_lifetime"].decode(Int?.self), defaultAudience: try row["default_audience"].decode(String?.self),
            createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
            updatedAt: Date(timeIntervalSince1970: try row["updated_at"].decode(Double.self))
        )
    }
}
