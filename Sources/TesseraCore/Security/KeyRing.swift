import Foundation
import Synchronization
import TesseraJOSE

/// The issuer's signing keys in memory: the one active key that signs, and every
/// key that is published in the JWKS (next, active and recently retired).
///
/// Loaded from the store once and refreshed periodically; signing never touches
/// the database.
public final class KeyRing: Sendable {
    public struct Snapshot: Sendable {
        /// The key that signs new tokens.
        public let active: SigningKey
        /// The keys published in the JWKS, active first.
        public let published: [JWK]
        /// The same keys, for verifying tokens this issuer signed.
        public let verificationKeys: KeySet
    }

    private let storage: any SigningKeyStorage
    private let masterKey: MasterKey
    private let state: Mutex<Snapshot?>

    public init(storage: any SigningKeyStorage, masterKey: MasterKey) {
        self.storage = storage
        self.masterKey = masterKey
        self.state = Mutex(nil)
    }

    /// The current keys; `nil` until ``load(generating:now:)`` succeeded.
    public var snapshot: Snapshot? { state.withLock { $0 } }

    /// Loads the keys from the store. When no key is active and `algorithm` is
    /// given, generates one, seals it under the master key and stores it.
    /// Fails when a stored key cannot be opened with this master key.
    @discardableResult
    public func load(generating algorithm: JWSAlgorithm?, now: Date) async throws -> Snapshot {
        var stored = try await storage.signingKeys()
        if !stored.contains(where: { $0.state == .active }), let algorithm {
            let key = try SigningKey.generate(algorithm)
            let record = StoredSigningKey(
                kid: key.keyID, algorithm: algorithm, publicJWK: key.publicJWK,
                sealedPrivateKey: try masterKey.seal(key.privateKeyBytes, context: key.keyID),
                state: .active, createdAt: now, activatedAt: now
            )
            _ = try await storage.insertSigningKey(record)
            stored = try await storage.signingKeys()
        }
        guard let activeRecord = stored.first(where: { $0.state == .active }) else {
            throw KeyRingError.noActiveKey
        }
        let privateBytes = try masterKey.unseal(activeRecord.sealedPrivateKey, context: activeRecord.kid)
        let active = try SigningKey(algorithm: activeRecord.algorithm, privateKeyBytes: privateBytes)
        guard active.keyID == activeRecord.kid else { throw KeyRingError.corrupt(activeRecord.kid) }
        let published = [active.publicJWK] + stored.filter { $0.kid != active.keyID }.map(\.publicJWK)
        let snapshot = Snapshot(
            active: active,
            published: published,
            verificationKeys: KeySet(published.compactMap { try? VerificationKey(jwk: $0) })
        )
        state.withLock { $0 = snapshot }
        return snapshot
    }
}

/// Why the key ring cannot sign.
public enum KeyRingError: Error, CustomStringConvertible, Sendable {
    case noActiveKey
    case corrupt(String)

    public var description: String {
        switch self {
        case .noActiveKey: "no active signing key is stored"
        case .corrupt(let kid): "stored signing key \(kid) does not match its key id"
        }
    }
}
