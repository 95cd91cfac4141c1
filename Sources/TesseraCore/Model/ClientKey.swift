import Foundation
import TesseraJOSE

/// A public key an account registered to authenticate with `private_key_jwt`
/// (RFC 7523 §2.2) instead of a secret.
public struct ClientKey: Sendable, Hashable {
    public var accountID: UUID
    /// The JWK's `kid`, unique per account.
    public var kid: String
    /// The public JWK; its algorithm is bound to it (`alg`, or the curve's only one).
    public var jwk: JWK
    public var createdAt: Date
    public var expiresAt: Date?

    public init(accountID: UUID, kid: String, jwk: JWK, createdAt: Date, expiresAt: Date? = nil) {
        self.accountID = accountID
        self.kid = kid
        self.jwk = jwk
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    public func isUsable(at now: Date) -> Bool {
        expiresAt.map { $0 > now } ?? true
    }
}
