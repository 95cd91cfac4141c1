/// The PostgreSQL store's signing keys and their rotation under the advisory lock.

import Foundation
import PostgresNIO
import TesseraCore
import TesseraJOSE

extension PostgresStorage {
    // MARK: Signing keys

    public func signingKeys() async throws -> [StoredSigningKey] {
        try await query("SELECT * FROM signing_keys ORDER BY created_at DESC").map { row in
            guard let algorithm = JWSAlgorithm(rawValue: try row["algorithm"].decode(String.self)),
                let state = StoredSigningKey.State(rawValue: try row["state"].decode(String.self))
            else {
                throw StoreError.unavailable("signing_keys row has an unknown algorithm or state")
            }
            return StoredSigningKey(
                kid: try row["kid"].decode(String.self), algorithm: algorithm,
                publicJWK: try StoredJSON.decode(row["public_jwk"].decode(String.self)),
                sealedPrivateKey: Array(try row["sealed_private_key"].decode(Data.self)), state: state,
                createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
                activatedAt: try row["activated_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
                retiredAt: try row["retired_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
                activatesAt: try row["activates_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:))
            )
        }
    }

    /// Inserts a key under the rotation lock, so of replicas rotating at once exactly
    /// one stores its key; the others get false (the unique indexes agree).
    public func insertSigningKey(_ key: StoredSigningKey) async throws -> Bool {
        do {
            return try await insertSigningKeyLocked(key)
        } catch let error as StoreError where error.isConflict {
            return false
        }
    }

    private func insertSigningKeyLocked(_ key: StoredSigningKey) async throws -> Bool {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.rotationLock))", logger: self.logger)
            let taken = try await self.rows(
                connection, "SELECT EXISTS (SELECT 1 FROM signing_keys WHERE state = \(key.state.rawValue) AND state <> 'retired') AS taken")
            if try taken[0]["taken"].decode(Bool.self) { return false }
            try await connection.query(
                """
                INSERT INTO signing_keys (kid, algorithm, public_jwk, sealed_private_key, state, created_at, activated_at, retired_at, activates_at)
                VALUES (\(key.kid), \(key.algorithm.rawValue), \(try StoredJSON.encode(key.publicJWK)), \(Data(key.sealedPrivateKey)),
                        \(key.state.rawValue), \(key.createdAt.timeIntervalSince1970), \(key.activatedAt?.timeIntervalSince1970),
                        \(key.retiredAt?.timeIntervalSince1970), \(key.activatesAt?.timeIntervalSince1970))
                """, logger: self.logger)
            try await self.notify(connection, .signingKeys)
            return true
        }
    }

    public func promoteSigningKey(kid: String, now: Date) async throws -> Bool {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.rotationLock))", logger: self.logger)
            let next = try await self.rows(connection, "SELECT kid FROM signing_keys WHERE kid = \(kid) AND state = 'next'")
            guard !next.isEmpty else { return false }
            try await connection.query(
                "UPDATE signing_keys SET state = 'retired', retired_at = \(now.timeIntervalSince1970) WHERE state = 'active'", logger: self.logger
            )
            try await connection.query(
                "UPDATE signing_keys SET state = 'active', activated_at = \(now.timeIntervalSince1970) WHERE kid = \(kid)", logger: self.logger
            )
            try await self.notify(connection, .signingKeys)
            return true
        }
    }

    public func deleteSigningKey(kid: String) async throws {
        try await transaction { connection in
            let deleted = try await self.rows(connection, "DELETE FROM signing_keys WHERE kid = \(kid) AND state = 'retired' RETURNING kid")
            if !deleted.isEmpty { try await self.notify(connection, .signingKeys) }
        }
    }
}
