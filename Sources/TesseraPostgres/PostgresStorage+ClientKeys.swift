/// The PostgreSQL store's client keys and used assertion ids.

import Foundation
import PostgresNIO
import TesseraCore
import TesseraJOSE

extension PostgresStorage {
    // MARK: Client keys

    public func clientKeys(accountID: UUID) async throws -> [ClientKey] {
        try await query("SELECT * FROM client_keys WHERE account_id = \(accountID) ORDER BY created_at, kid").map { row in
            ClientKey(
                accountID: try row["account_id"].decode(UUID.self), kid: try row["kid"].decode(String.self),
                jwk: try StoredJSON.decode(row["jwk"].decode(String.self)),
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
            try await connection.query(
                """
                INSERT INTO client_keys (account_id, kid, jwk, created_at, expires_at)
                VALUES (\(key.accountID), \(key.kid), \(try StoredJSON.encode(key.jwk)), \(key.createdAt.timeIntervalSince1970),
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
        let inserted = try await query(
            """
            INSERT INTO used_assertions (client_id, jti, expires_at) VALUES (\(clientID), \(jti), \(expiresAt.timeIntervalSince1970))
            ON CONFLICT (client_id, jti) DO NOTHING RETURNING jti
            """)
        return !inserted.isEmpty
    }

    @discardableResult
    public func purgeAssertionIDs(expiredBefore date: Date) async throws -> Int {
        try await query(
            "WITH gone AS (DELETE FROM used_assertions WHERE expires_at < \(date.timeIntervalSince1970) RETURNING 1) SELECT COUNT(*) AS n FROM gone")[0]["n"]
            .decode(Int.self)
    }
}
