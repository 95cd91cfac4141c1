/// The SQLite store's signing keys and their rotation.

import Foundation
import GRDB
import TesseraCore
import TesseraJOSE

extension SQLiteStorage {
    // MARK: Signing keys

    public func signingKeys() async throws -> [StoredSigningKey] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM signing_keys ORDER BY created_at DESC").map { row in
                guard let algorithm = JWSAlgorithm(rawValue: row["algorithm"]),
                    let state = StoredSigningKey.State(rawValue: row["state"])
                else {
                    throw StoreError.unavailable("signing_keys row has an unknown algorithm or state")
                }
                return StoredSigningKey(
                    kid: row["kid"], algorithm: algorithm,
                    publicJWK: try JSONDecoder().decode(JWK.self, from: Data((row["public_jwk"] as String).utf8)),
                    sealedPrivateKey: Array(row["sealed_private_key"] as Data), state: state,
                    createdAt: Date(timeIntervalSince1970: row["created_at"]),
                    activatedAt: (row["activated_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    retiredAt: (row["retired_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    activatesAt: (row["activates_at"] as Double?).map(Date.init(timeIntervalSince1970:))
                )
            }
        }
    }

    public func insertSigningKey(_ key: StoredSigningKey) async throws -> Bool {
        do {
            try await write { db in
                try db.execute(
                    sql: """
                        INSERT INTO signing_keys (kid, algorithm, public_jwk, sealed_private_key, state, created_at, activated_at, retired_at,
                            activates_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        key.kid, key.algorithm.rawValue, String(decoding: try JSONEncoder().encode(key.publicJWK), as: UTF8.self),
                        Data(key.sealedPrivateKey), key.state.rawValue, key.createdAt.timeIntervalSince1970,
                        key.activatedAt?.timeIntervalSince1970, key.retiredAt?.timeIntervalSince1970,
                        key.activatesAt?.timeIntervalSince1970,
                    ]
                )
            }
            return true
        } catch let error as StoreError where error.isConflict {
            return false
        }
    }

    public func promoteSigningKey(kid: String, now: Date) async throws -> Bool {
        try await write { db in
            let isNext =
                try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM signing_keys WHERE kid = ? AND state = 'next')", arguments: [kid]
                ) ?? false
            guard isNext else { return false }
            try db.execute(
                sql: "UPDATE signing_keys SET state = 'retired', retired_at = ? WHERE state = 'active'",
                arguments: [now.timeIntervalSince1970]
            )
            try db.execute(
                sql: "UPDATE signing_keys SET state = 'active', activated_at = ? WHERE kid = ?", arguments: [now.timeIntervalSince1970, kid]
            )
            return true
        }
    }

    public func deleteSigningKey(kid: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM signing_keys WHERE kid = ? AND state = 'retired'", arguments: [kid])
        }
    }
}
