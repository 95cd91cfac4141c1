/// The SQLite store's client keys and used assertion ids.

import Foundation
import GRDB
import TesseraCore
import TesseraJOSE

extension SQLiteStorage {
    // MARK: Client keys

    public func clientKeys(accountID: UUID) async throws -> [ClientKey] {
        try await read { db in
            let query = try db.cachedStatement(sql: "SELECT * FROM client_keys WHERE account_id = ? ORDER BY created_at, kid")
            return try Row.fetchAll(query, arguments: [accountID.text]).map { row in
                ClientKey(
                    accountID: try Self.uuid(row["account_id"]), kid: row["kid"], jwk: try StoredJSON.decode(row["jwk"]),
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
                    key.accountID.text, key.kid, try StoredJSON.encode(key.jwk), key.createdAt.timeIntervalSince1970,
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
}
