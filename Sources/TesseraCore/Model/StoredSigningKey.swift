import Foundation
import TesseraJOSE

/// A signing key as the store keeps it: the public JWK in clear, the private key
/// sealed with AES-256-GCM under the master key.
public struct StoredSigningKey: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        /// Published in the JWKS, not yet signing.
        case next
        /// Signing new tokens (exactly one at a time).
        case active
        /// No longer signing; published until its tokens have expired.
        case retired
    }

    public var kid: String
    public var algorithm: JWSAlgorithm
    public var publicJWK: JWK
    /// `nonce || ciphertext || tag` of the private key bytes (AES-256-GCM, AAD = kid).
    public var sealedPrivateKey: [UInt8]
    public var state: State
    public var createdAt: Date
    public var activatedAt: Date?
    public var retiredAt: Date?
    /// For a `next` key: when it may start signing (published for one JWKS max-age by then).
    public var activatesAt: Date?

    public init(
        kid: String, algorithm: JWSAlgorithm, publicJWK: JWK, sealedPrivateKey: [UInt8], state: State,
        createdAt: Date, activatedAt: Date? = nil, retiredAt: Date? = nil, activatesAt: Date? = nil
    ) {
        self.activatesAt = activatesAt
        self.kid = kid
        self.algorithm = algorithm
        self.publicJWK = publicJWK
        self.sealedPrivateKey = sealedPrivateKey
        self.state = state
        self.createdAt = createdAt
        self.activatedAt = activatedAt
        self.retiredAt = retiredAt
    }
}
