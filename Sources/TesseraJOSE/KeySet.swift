import Foundation

/// Verification keys indexed by `kid`.
public struct KeySet: Sendable {
    private var keys: [String: VerificationKey]

    public init(_ keys: [VerificationKey] = []) {
        var byID: [String: VerificationKey] = [:]
        for key in keys { if let id = key.keyID { byID[id] = key } }
        self.keys = byID
    }

    /// Builds a key set from a JWKS, skipping keys that are not for signatures
    /// or cannot be used (for example an RSA key without `alg`), so one odd key
    /// does not take the whole set down. Keys without `kid` are skipped too.
    public init(jwks: JWKSet) {
        self.init(jwks.keys.compactMap { jwk in jwk.kid == nil ? nil : try? VerificationKey(jwk: jwk) })
    }

    public subscript(kid: String) -> VerificationKey? { keys[kid] }

    public var keyIDs: Set<String> { Set(keys.keys) }

    public var isEmpty: Bool { keys.isEmpty }
}
