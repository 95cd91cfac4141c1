/// The PostgreSQL store's revoked tokens.

import Foundation
import PostgresNIO
import TesseraCore

extension PostgresStorage {
    // MARK: Revocation

    public func revokeToken(jti: String, tenantID: UUID, expiresAt: Date, revokedAt: Date) async throws {
        try await transaction { connection in
            try await connection.query(
                """
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
        try await query(
            "WITH gone AS (DELETE FROM revoked_tokens WHERE expires_at < \(date.timeIntervalSince1970) RETURNING 1) SELECT COUNT(*) AS n FROM gone")[0]["n"]
            .decode(Int.self)
    }

    public func revokedTokens(expiringAfter date: Date, limit: Int) async throws -> [(jti: String, expiresAt: Date)] {
        try await query("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= \(date.timeIntervalSince1970) LIMIT \(limit)").map { row in
            (jti: try row["jti"].decode(String.self), expiresAt: Date(timeIntervalSince1970: try row["expires_at"].decode(Double.self)))
        }
    }
}
