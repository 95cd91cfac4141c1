/// The SQLite store's revoked tokens.

import Foundation
import GRDB
import TesseraCore

extension SQLiteStorage {
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
}
