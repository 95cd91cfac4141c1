import Crypto
import Foundation
import _CryptoExtras

/// A public key bound to exactly one JWS algorithm.
///
/// The algorithm comes from the key, never from a token: a token whose header
/// names another algorithm is rejected before any signature check (RFC 8725 §3.1).
public struct VerificationKey: Sendable {
    enum Backing: Sendable {
        case p256(P256.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
        case rsa(_RSA.Signing.PublicKey)
    }

    /// The only algorithm this key verifies.
    public let algorithm: JWSAlgorithm
    /// The key id, if the JWK had one.
    public let keyID: String?
    let backing: Backing

    init(algorithm: JWSAlgorithm, keyID: String?, backing: Backing) {
        self.algorithm = algorithm
        self.keyID = keyID
        self.backing = backing
    }

    /// Builds a verification key from a public JWK.
    ///
    /// The algorithm is taken from `alg` when present and must fit the key type;
    /// EC P-256 keys default to ES256 and Ed25519 keys to EdDSA. RSA keys must
    /// name `alg` (RS256 or PS256), since the two cannot be told apart otherwise,
    /// and must be at least 2048 bits.
    public init(jwk: JWK) throws {
        let named: JWSAlgorithm?
        if let alg = jwk.alg {
            guard let parsed = JWSAlgorithm(rawValue: alg) else {
                throw JOSEError.unsupportedAlgorithm("key algorithm \"\(alg)\" is not supported")
            }
            named = parsed
        } else {
            named = nil
        }
        if let use = jwk.use, use != "sig" {
            throw JOSEError.invalidKey("key use \"\(use)\" is not \"sig\"")
        }
        func bytes(_ value: String?, _ name: String) throws -> [UInt8] {
            guard let value, let decoded = Base64URL.decode(value), !decoded.isEmpty else {
                throw JOSEError.invalidKey("JWK member \"\(name)\" is missing or not base64url")
            }
            return decoded
        }
        switch jwk.kty {
        case "EC":
            guard jwk.crv == "P-256" else { throw JOSEError.invalidKey("EC curve \"\(jwk.crv ?? "")\" is not supported") }
            let algorithm = named ?? .es256
            guard algorithm == .es256 else { throw JOSEError.algorithmMismatch("a P-256 key cannot be used with \(algorithm.rawValue)") }
            let x = try bytes(jwk.x, "x"), y = try bytes(jwk.y, "y")
            guard x.count == 32, y.count == 32 else { throw JOSEError.invalidKey("P-256 coordinates must be 32 bytes") }
            do {
                let key = try P256.Signing.PublicKey(rawRepresentation: x + y)
                self.init(algorithm: algorithm, keyID: jwk.kid, backing: .p256(key))
            } catch {
                throw JOSEError.invalidKey("P-256 point is not on the curve")
            }
        case "OKP":
            guard jwk.crv == "Ed25519" else { throw JOSEError.invalidKey("OKP curve \"\(jwk.crv ?? "")\" is not supported") }
            let algorithm = named ?? .eddsa
            guard algorithm == .eddsa else { throw JOSEError.algorithmMismatch("an Ed25519 key cannot be used with \(algorithm.rawValue)") }
            let x = try bytes(jwk.x, "x")
            guard x.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: x) else {
                throw JOSEError.invalidKey("Ed25519 public key must be 32 bytes")
            }
            self.init(algorithm: algorithm, keyID: jwk.kid, backing: .ed25519(key))
        case "RSA":
            guard let algorithm = named else { throw JOSEError.invalidKey("an RSA key must name its algorithm (RS256 or PS256)") }
            guard algorithm == .rs256 || algorithm == .ps256 else {
                throw JOSEError.algorithmMismatch("an RSA key cannot be used with \(algorithm.rawValue)")
            }
            let n = try bytes(jwk.n, "n"), e = try bytes(jwk.e, "e")
            let modulusBits = (n.drop(while: { $0 == 0 }).count) * 8
            guard modulusBits >= 2048 else { throw JOSEError.invalidKey("RSA keys must be at least 2048 bits") }
            do {
                let key = try _RSA.Signing.PublicKey(n: n, e: e)
                self.init(algorithm: algorithm, keyID: jwk.kid, backing: .rsa(key))
            } catch {
                throw JOSEError.invalidKey("RSA modulus or exponent is invalid")
            }
        default:
            throw JOSEError.invalidKey("key type \"\(jwk.kty)\" is not supported")
        }
    }

    /// Checks `signature` over `signingInput` with this key's algorithm.
    public func isValidSignature(_ signature: [UInt8], for signingInput: [UInt8]) -> Bool {
        switch backing {
        case .p256(let key):
            guard signature.count == 64, let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else {
                return false
            }
            return key.isValidSignature(parsed, for: signingInput)
        case .ed25519(let key):
            guard signature.count == 64 else { return false }
            return key.isValidSignature(signature, for: signingInput)
        case .rsa(let key):
            let parsed = _RSA.Signing.RSASignature(rawRepresentation: signature)
            let padding: _RSA.Signing.Padding = algorithm == .ps256 ? .PSS : .insecurePKCS1v1_5
            return key.isValidSignature(parsed, for: signingInput, padding: padding)
        }
    }
}
