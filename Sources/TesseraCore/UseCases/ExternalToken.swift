import Foundation
import TesseraJOSE

/// A token another issuer signed, presented as a federated credential: a
/// Kubernetes service-account token, a GitHub Actions OIDC token, a SPIFFE
/// JWT-SVID. Parsed, not yet trusted; ``FederationService`` checks it against the
/// credentials that name its issuer (docs/federation.md).
public struct ExternalToken: Sendable {
    public let jws: CompactJWS
    package let claims: [String: JSONValue]
    public let issuer: String
    public let subject: String?
    public let audience: [String]
    public let exp: Int64?
    public let iat: Int64?
    public let nbf: Int64?
    public let jti: String?

    /// Why a token was refused, in words for the audit log and the server log; the
    /// caller only ever sees `invalid_client` or `invalid_grant`.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Longest `iss`, `sub` and `jti` read.
    static let maximumClaimLength = 1024

    public init(_ text: String) throws(Refusal) {
        do {
            jws = try CompactJWS(text)
        } catch {
            throw Refusal("the token is not a compact JWS")
        }
        guard let members = try? JSONValue.parse(jws.payload).object else { throw Refusal("the token's payload is not a JSON object") }
        claims = members
        guard let iss = members["iss"]?.string, !iss.isEmpty, iss.utf8.count <= Self.maximumClaimLength else {
            throw Refusal("the token has no iss")
        }
        issuer = iss
        subject = members["sub"]?.string
        if let sub = subject, sub.utf8.count > Self.maximumClaimLength { throw Refusal("the token's sub is too long") }
        audience = members["aud"].flatMap { $0.string.map { [$0] } ?? $0.strings } ?? []
        func time(_ name: String) throws(Refusal) -> Int64? {
            guard let value = members[name], value != .null else { return nil }
            guard let date = value.numericDate else { throw Refusal("\(name) is not a NumericDate from 1970 to 9999") }
            return date
        }
        exp = try time("exp")
        iat = try time("iat")
        nbf = try time("nbf")
        if let value = members["jti"], value != .null {
            guard let jti = value.string, !jti.isEmpty, jti.utf8.count <= Self.maximumClaimLength else { throw Refusal("the token's jti is not a string") }
            self.jti = jti
        } else {
            jti = nil
        }
    }

    /// The Kubernetes service account a token names as `default`, or `nil`: its
    /// `sub` is `system:serviceaccount:<namespace>:default`, or its
    /// `kubernetes.io.serviceaccount.name` claim is `default`.
    public var kubernetesDefaultServiceAccount: String? {
        if let subject, subject.hasPrefix("system:serviceaccount:"), subject.hasSuffix(":default") { return subject }
        if claims.claimText("kubernetes.io.serviceaccount.name") == "default" { return subject ?? "default" }
        return nil
    }
}
