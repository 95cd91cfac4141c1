/// The JWS algorithms Tessera signs and verifies with (RFC 7518 §3, RFC 8037 §3.1).
///
/// `none` and the HMAC family are deliberately absent: an issuer's public key can
/// never be used as a shared secret, and an unsigned token is never accepted.
public enum JWSAlgorithm: String, Sendable, CaseIterable, Codable, Hashable {
    /// ECDSA using P-256 and SHA-256 (the default).
    case es256 = "ES256"
    /// EdDSA with Ed25519 (RFC 8037).
    case eddsa = "EdDSA"
    /// RSASSA-PKCS1-v1_5 using SHA-256.
    case rs256 = "RS256"
    /// RSASSA-PSS using SHA-256 and MGF1 with SHA-256.
    case ps256 = "PS256"

    /// The JWK key type (`kty`) a key for this algorithm has.
    public var keyType: String {
        switch self {
        case .es256: "EC"
        case .eddsa: "OKP"
        case .rs256, .ps256: "RSA"
        }
    }
}
