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
        /// The JWKS document of `published` (RFC 7517 §5), encoded once per load:
        /// `/.well-known/jwks.json` is the most asked-for document there is.
        public let publishedJSON: [UInt8]
    }

    private static let jwksEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

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
    public func load(generating algorithm: JWSAlgorithm?, now: Date, retirementGrace: TimeInterval = KeyPolicy.defaultRetirementGrace) async throws -> Snapshot
    {
        var stored = try await storage.signingKeys()
        if !stored.contains(where: { $0.state == .active }), let algorithm {
            _ = try await storage.insertSigningKey(try seal(SigningKey.generate(algorithm), state: .active, now: now))
            stored = try await storage.signingKeys()
        }
        guard let activeRecord = stored.first(where: { $0.state == .active }) else {
            throw KeyRingError.noActiveKey
        }
        let privateBytes = try masterKey.unseal(activeRecord.sealedPrivateKey, context: activeRecord.kid)
        let active = try SigningKey(algorithm: activeRecord.algorithm, privateKeyBytes: privateBytes)
        guard active.keyID == activeRecord.kid else { throw KeyRingError.corrupt(activeRecord.kid) }
        // Published: the active key, the next one, and retired keys whose tokens may still be alive.
        let others = stored.filter { record in
            switch record.state {
            case .active: false
            case .next: true
            case .retired: (record.retiredAt ?? .distantPast).addingTimeInterval(retirementGrace) > now
            }
        }
        let published = [active.publicJWK] + others.map(\.publicJWK)
        let snapshot = Snapshot(
            active: active,
            published: published,
            verificationKeys: KeySet(published.compactMap { try? VerificationKey(jwk: $0) }),
            publishedJSON: Array(try Self.jwksEncoder.encode(JWKSet(keys: published)))
        )
        state.withLock { $0 = snapshot }
        return snapshot
    }

    /// `tessera keys rotate`: promotes the next key when it has been published
    /// long enough, else schedules one (creating it if there is none) to sign
    /// from `now + publishAhead`.
    public func rotate(algorithm: JWSAlgorithm, publishAhead: TimeInterval, now: Date) async throws -> KeyChange {
        if let next = try await storage.signingKeys().first(where: { $0.state == .next }) {
            if let promoted = try await promoteIfDue(next, now: now) { return promoted }
            return .pending(kid: next.kid, activatesAt: next.activatesAt ?? now)
        }
        let record = try seal(SigningKey.generate(algorithm), state: .next, now: now, activatesAt: now.addingTimeInterval(publishAhead))
        guard try await storage.insertSigningKey(record) else {
            // Another process scheduled one at the same moment: report theirs.
            let next = try await storage.signingKeys().first(where: { $0.state == .next })
            return .pending(kid: next?.kid ?? record.kid, activatesAt: next?.activatesAt ?? now)
        }
        if publishAhead <= 0, let promoted = try await promoteIfDue(record, now: now) { return promoted }
        return .scheduled(kid: record.kid, activatesAt: record.activatesAt ?? now)
    }

    /// What a running server does every few seconds: promote a due next key,
    /// schedule a rotation when the active key is older than the policy allows,
    /// forget retired keys no token can need, and reload.
    public func maintain(_ policy: KeyPolicy, now: Date) async throws -> [KeyChange] {
        var changes: [KeyChange] = []
        let stored = try await storage.signingKeys()
        if let next = stored.first(where: { $0.state == .next }) {
            if let promoted = try await promoteIfDue(next, now: now) { changes.append(promoted) }
        } else if let period = policy.rotationPeriod, let active = stored.first(where: { $0.state == .active }),
            (active.activatedAt ?? active.createdAt).addingTimeInterval(period) <= now
        {
            changes.append(try await rotate(algorithm: policy.algorithm, publishAhead: policy.publishAhead, now: now))
        }
        for record in stored where record.state == .retired {
            if (record.retiredAt ?? .distantPast).addingTimeInterval(policy.retirementGrace) <= now {
                try await storage.deleteSigningKey(kid: record.kid)
                changes.append(.removed(kid: record.kid))
            }
        }
        try await load(generating: nil, now: now, retirementGrace: policy.retirementGrace)
        return changes
    }

    private func promoteIfDue(_ next: StoredSigningKey, now: Date) async throws -> KeyChange? {
        guard (next.activatesAt ?? next.createdAt) <= now else { return nil }
        // Check that this master key can open it before it becomes the one that signs.
        _ = try masterKey.unseal(next.sealedPrivateKey, context: next.kid)
        guard try await storage.promoteSigningKey(kid: next.kid, now: now) else { return nil }
        return .promoted(kid: next.kid)
    }

    private func seal(_ key: SigningKey, state: StoredSigningKey.State, now: Date, activatesAt: Date? = nil) throws -> StoredSigningKey {
        StoredSigningKey(
            kid: key.keyID, algorithm: key.algorithm, publicJWK: key.publicJWK,
            sealedPrivateKey: try masterKey.seal(key.privateKeyBytes, context: key.keyID),
            state: state, createdAt: now, activatedAt: state == .active ? now : nil, activatesAt: activatesAt
        )
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
