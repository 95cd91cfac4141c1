import Foundation
import TesseraJOSE

/// An access token whose signature and claims have been verified.
public struct VerifiedToken: Sendable, Hashable {
    /// What was presented.
    public enum Kind: Sendable, Hashable {
        /// A signed JWT access token (RFC 9068).
        case accessToken
        /// An opaque API token, checked by introspection; its claims are what the
        /// issuer answered (`aud` empty, `jti` empty, `exp` its expiry or the year 9999).
        case apiToken
    }

    /// All claims as issued.
    public let claims: AccessTokenClaims
    public var kind: Kind = .accessToken

    /// The service account id (`sub`).
    public var subject: String { claims.sub }
    public var clientID: String { claims.clientID }
    /// The tenant id.
    public var tenant: String { claims.tenant }
    public var roles: [String] { claims.roles }
    public var scopes: Set<String> { claims.scopes }
    public var audience: [String] { claims.aud }
    public var tokenID: String { claims.jti }
    public var issuedAt: Date { Date(timeIntervalSince1970: TimeInterval(claims.iat)) }
    public var expiresAt: Date { Date(timeIntervalSince1970: TimeInterval(claims.exp)) }
    /// What the presenter proved it holds (`cnf`, docs/binding.md): `jkt`, the
    /// thumbprint of the DPoP key, and `x5tS256`, the SHA-256 of the client
    /// certificate; `nil` for a bearer token. A verifier returns a token with `cnf`
    /// only from ``TokenVerifier/verify(_:presentation:sensitive:)``, once the binding
    /// was proven.
    public var cnf: Confirmation? { claims.cnf }

    /// Throws ``TokenVerificationError/Code-swift.struct/insufficientScope`` unless the token holds every scope in `required`.
    ///
    /// ```swift
    /// let token = try await verifier.verify(bearer)
    /// try token.require(scopes: "orders:read")
    /// ```
    public func require(scopes required: String...) throws {
        try require(scopes: Set(required))
    }

    /// Throws unless the token holds every scope in `required`.
    public func require(scopes required: Set<String>) throws {
        let missing = required.subtracting(scopes)
        guard missing.isEmpty else {
            throw TokenVerificationError(.insufficientScope, "missing scope: \(missing.sorted().joined(separator: " "))")
        }
    }
}
