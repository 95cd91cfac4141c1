import Foundation
import GRDB
import Logging
import PostgresNIO
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraPostgres
@testable import TesseraSQLite

@Suite struct SQLiteFileTests {
    @Test func dataSurvivesCloseAndReopen() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("nested/tessera.sqlite").path
        let tenant = Fixtures.tenant("acme")
        let (account, secret) = Fixtures.account(in: tenant, name: "billing")
        do {
            let storage = try SQLiteStorage(path: path)
            _ = try await storage.createTenant(tenant, roles: Role.defaultCatalogue)
            _ = try await storage.createServiceAccount(account, secret: secret, limit: nil)
        }
        let reopened = try SQLiteStorage(path: path)
        #expect(try reopened.appliedMigrations() == ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9"])
        // Both stores carry one numbering, so a migration id means one change.
        #expect(try reopened.appliedMigrations() == PostgresStorage.migrationIDs)
        #expect(try await reopened.tenant(slug: "acme")?.id == tenant.id)
        #expect(try await reopened.credentials(clientID: account.clientID)?.secrets == [secret])
    }

    @Test func migrationV6GivesExistingAdministratorRolesTheScimScope() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("tessera.sqlite").path
        let tenantID = UUID().uuidString.lowercased()
        do {
            // A database as version 5 left it, with a tenant and its roles of then.
            let queue = try DatabaseQueue(path: path)
            try SQLiteStorage.migrator.migrate(queue, upTo: "v5")
            try await queue.write { db in
                try db.execute(
                    sql: "INSERT INTO tenants (id, slug, number, name, created_at, updated_at) VALUES (?, 'old', 1, 'old', 0, 0)",
                    arguments: [tenantID]
                )
                for (name, scopes, builtin) in [
                    ("admin", #"["tessera:admin","tessera:introspect","api:read","api:write"]"#, true),
                    ("owner", #"["tessera:admin","tessera:introspect","api:read","api:write","scim"]"#, true),
                    ("editor", #"["api:read","api:write"]"#, true),
                    ("custom", #"["api:read"]"#, false),
                ] {
                    try db.execute(
                        sql: "INSERT INTO roles (tenant_id, name, scopes, builtin) VALUES (?, ?, ?, ?)", arguments: [tenantID, name, scopes, builtin])
                }
            }
        }
        let storage = try SQLiteStorage(path: path)
        let roles = try await storage.roles(tenantID: try #require(UUID(uuidString: tenantID)))
        let scopes = Dictionary(uniqueKeysWithValues: roles.map { ($0.name, $0.scopes) })
        #expect(scopes["admin"] == ["tessera:admin", "tessera:introspect", "api:read", "api:write", "scim"])
        #expect(scopes["owner"] == ["tessera:admin", "tessera:introspect", "api:read", "api:write", "scim"])
        #expect(scopes["editor"] == ["api:read", "api:write"])
        #expect(scopes["custom"] == ["api:read"])
    }

    @Test func databaseIsWALWithFullSynchronousAndPrivateFileMode() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tessera.sqlite").path
        let storage = try SQLiteStorage(path: path)
        #expect(try storage.pragma("journal_mode") == "wal")
        // On the writer, which commits: GRDB's WAL set-up leaves it at NORMAL (1),
        // under which a commit does not sync. Readers never commit.
        #expect(try storage.pragma("synchronous") == "2")  // FULL
        #expect(try storage.readerPragma("synchronous") == "2")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
