import Crypto
import Foundation
import TesseraJOSE

/// Checks the DPoP proofs sent to Tessera's own endpoints (RFC 9449 §4.3,
/// docs/binding.md): what ``DPoPProof`` checks, a `jti` used once per key within
/// the proof's window (remembered in the store, so on PostgreSQL across replicas),
/// and, when nonces are on, a nonce of Tessera's.
public struct DPoPValidator: Sendable {
    /// How old a proof may be, in seconds.
    public let maximumAge: Int64
    /// How far ahead of the clock a proof's `iat` may be, in seconds.
    public static let maximumSkew: Int64 = 60
    /// Hands out and checks nonces; `nil` when nonces are off.
    public let nonces: Nonces?
    private let replay: any ClientKeyStorage
    private let dependencies: Dependencies

    public init(replay: any ClientKeyStorage, dependencies: Dependencies, maximumAge: Int64 = 300, nonces: Nonces? = nil) {
        self.replay = replay
        self.dependencies = dependencies
        self.maximumAge = maximumAge
        self.nonces = nonces
    }

    /// The proof in `headers` (every `DPoP` field value) for a request of `method` to
    /// `url`, checked; `accessToken` when one is presented with it (`ath`).
    /// Failures are ``OAuthError``s `invalid_dpop_proof` or `use_dpop_nonce`; an
    /// unreachable store is `temporarily_unavailable`.
    public func validate(_ values: [String], method: String, url: String, accessToken: String? = nil) async throws -> DPoPProof {
        let proof = try check(values, method: method, url: url, accessToken: accessToken)
        try await spend(proof)
        return proof
    }

    /// What ``validate(_:method:url:accessToken:)`` checks but the `jti`: nothing is
    /// written, so it can run before a single-use credential beside the proof is spent.
    public func check(_ values: [String], method: String, url: String, accessToken: String? = nil) throws -> DPoPProof {
        guard values.count == 1, let value = values.first else { throw Self.invalid("send exactly one DPoP header") }
        let proof: DPoPProof
        let now = TimeClaims.seconds(dependencies.now())
        do {
            proof = try DPoPProof(value)
            try proof.check(method: method, url: url, now: now, maximumAge: maximumAge, maximumSkew: Self.maximumSkew, accessToken: accessToken)
        } catch {
            throw Self.invalid(error.description)
        }
        if let nonces {
            guard let nonce = proof.nonce else { throw OAuthError(code: "use_dpop_nonce", description: "the DPoP proof must carry a nonce") }
            guard nonces.isValid(nonce, now: now) else {
                throw OAuthError(code: "use_dpop_nonce", description: "the DPoP proof's nonce is not one of this server's current nonces")
            }
        }
        return proof
    }

    /// Records the proof's `jti` for its key; `invalid_dpop_proof` when it was used before.
    public func spend(_ proof: DPoPProof) async throws {
        let fresh: Bool
        do {
            // Remembered until the proof could no longer pass the age check.
            fresh = try await replay.useAssertionID(
                proof.jti, clientID: "dpop:" + proof.thumbprint,
                expiresAt: Date(timeIntervalSince1970: TimeInterval(proof.iat + maximumAge + 1)))
        } catch {
            throw OAuthError.temporarilyUnavailable("the store is unavailable")
        }
        guard fresh else { throw Self.invalid("the DPoP proof was used before") }
    }

    static func invalid(_ description: String) -> OAuthError { OAuthError(code: "invalid_dpop_proof", description: description) }

    /// Nonces (RFC 9449 §8): an HMAC of the time slot under a key derived from the
    /// master key, so every replica makes and accepts the same ones without sharing
    /// state. One is good for the slot it was made in and the next.
    public struct Nonces: Sendable {
        /// Seconds per slot; a nonce lives one to two slots.
        public static let slot: Int64 = 150
        private let key: SymmetricKey

        public init(masterKey: MasterKey) {
            key = masterKey.derivedKey(for: "tessera dpop nonce")
        }

        /// The nonce to hand out at `now`.
        public func current(now: Int64) -> String { nonce(slot: now / Self.slot) }

        /// Whether `nonce` was handed out in this slot or the one before.
        public func isValid(_ nonce: String, now: Int64) -> Bool {
            let slot = now / Self.slot
            let presented = Array(nonce.utf8)
            return [slot, slot - 1].contains { ConstantTime.equals(Array(self.nonce(slot: $0).utf8), presented) }
        }

        private func nonce(slot: Int64) -> String {
            var bytes = withUnsafeBytes(of: slot.bigEndian) { Array($0) }
            let mac = HMAC<SHA256>.authenticationCode(for: bytes, using: key)
            bytes = Array(mac.prefix(16))
            return Base64URL.encode(bytes)
        }
    }
}
