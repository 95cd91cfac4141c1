import Crypto
import Foundation
import _CryptoExtras

/// A private signing key bound to one JWS algorithm, with its public JWK and
/// RFC 7638 thumbprint as `kid`.
///
/// ``privateKeyBytes`` is the raw secret for storage; callers must encrypt it
/// (Tessera's key ring does, with AES-256-GCM) and never log it.
public struct SigningKey: Sendable {
    enum Backing: Sendable {
        case p256(P256.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
    }

    public let algorithm: JWSAlgorithm
    /// The RFC 7638 thumbprint of the public key.
    public let keyID: String
    /// The public JWK with `kid`, `alg` and `use: "sig"`.
    public let publicJWK: JWK
    let backing: Backing
    /// The base64url of the protected header for access tokens
    /// (`{"alg","kid","typ":"at+jwt"}`), computed once per key.
    let accessTokenHeaderSegment: String

    private init(algorithm: JWSAlgorithm, backing: Backing) throws {
        self.algorithm = algorithm
        self.backing = backing
        var jwk: JWK
        switch backing {
        case .p256(let key):
            let raw = Array(key.publicKey.rawRepresentation)
            jwk = JWK(kty: "EC", crv: "P-256", x: Base64URL.encode(raw[0..<32]), y: Base64URL.encode(raw[32..<64]))
        case .ed25519(let key):
            jwk = JWK(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(key.publicKey.rawRepresentation))
        case .rsa(let key):
            let primitives = try key.publicKey.getKeyPrimitives()
            jwk = JWK(kty: "RSA", n: Base64URL.encode(primitives.modulus), e: Base64URL.encode(primitives.publicExponent))
        }
        let keyID = try jwk.thumbprint()
        jwk.kid = keyID
        jwk.alg = algorithm.rawValue
        jwk.use = "sig"
        self.keyID = keyID
        self.publicJWK = jwk
        self.accessTokenHeaderSegment = Base64URL.encode(
            #"{"alg":"\#(algorithm.rawValue)","kid":"\#(keyID)","typ":"at+jwt"}"#
        )
    }

    /// Generates a fresh key (RSA keys are 2048 bits).
    public static func generate(_ algorithm: JWSAlgorithm) throws -> SigningKey {
        switch algorithm {
        case .es256: try SigningKey(algorithm: algorithm, backing: .p256(P256.Signing.PrivateKey()))
        case .eddsa: try SigningKey(algorithm: algorithm, backing: .ed25519(Curve25519.Signing.PrivateKey()))
        case .rs256, .ps256: try SigningKey(algorithm: algorithm, backing: .rsa(_RSA.Signing.PrivateKey(keySize: .bits2048)))
        }
    }

    /// Restores a key from ``privateKeyBytes``.
    public init(algorithm: JWSAlgorithm, privateKeyBytes: [UInt8]) throws {
        let backing: Backing
        do {
            switch algorithm {
            case .es256: backing = .p256(try P256.Signing.PrivateKey(rawRepresentation: privateKeyBytes))
            case .eddsa: backing = .ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyBytes))
            case .rs256, .ps256: backing = .rsa(try _RSA.Signing.PrivateKey(derRepresentation: privateKeyBytes))
            }
        } catch {
            throw JOSEError.invalidKey("stored \(algorithm.rawValue) private key cannot be read")
        }
        try self.init(algorithm: algorithm, backing: backing)
    }

    /// Loads a private JWK (used for published test vectors and imports).
    public init(privateJWK jwk: JWK, algorithm: JWSAlgorithm) throws {
        func bytes(_ value: String?, _ name: String) throws -> [UInt8] {
            guard let value, let decoded = Base64URL.decode(value) else {
                throw JOSEError.invalidKey("private JWK lacks \"\(name)\"")
            }
            return decoded
        }
        guard jwk.kty == algorithm.keyType else {
            throw JOSEError.algorithmMismatch("a \(jwk.kty) key cannot be used with \(algorithm.rawValue)")
        }
        let backing: Backing
        do {
            switch algorithm {
            case .es256: backing = .p256(try P256.Signing.PrivateKey(rawRepresentation: try bytes(jwk.d, "d")))
            case .eddsa: backing = .ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: try bytes(jwk.d, "d")))
            case .rs256, .ps256:
                backing = .rsa(
                    try _RSA.Signing.PrivateKey(
                        n: try bytes(jwk.n, "n"), e: try bytes(jwk.e, "e"), d: try bytes(jwk.d, "d"),
                        p: try bytes(jwk.p, "p"), q: try bytes(jwk.q, "q")
                    ))
            }
        } catch let error as JOSEError {
            throw error
        } catch {
            throw JOSEError.invalidKey("private JWK is not a valid \(algorithm.rawValue) key")
        }
        try self.init(algorithm: algorithm, backing: backing)
    }

    /// The secret key bytes for encrypted storage: the raw scalar for P-256 and
    /// Ed25519, PKCS #1 DER for RSA.
    public var privateKeyBytes: [UInt8] {
        switch backing {
        case .p256(let key): Array(key.rawRepresentation)
        case .ed25519(let key): Array(key.rawRepresentation)
        case .rsa(let key): Array(key.derRepresentation)
        }
    }

    /// The matching verification key.
    public var verificationKey: VerificationKey {
        switch backing {
        case .p256(let key): VerificationKey(algorithm: algorithm, keyID: keyID, backing: .p256(key.publicKey))
        case .ed25519(let key): VerificationKey(algorithm: algorithm, keyID: keyID, backing: .ed25519(key.publicKey))
        case .rsa(let key): VerificationKey(algorithm: algorithm, keyID: keyID, backing: .rsa(key.publicKey))
        }
    }

    /// Signs `signingInput` (the ASCII `header.payload`) and returns the raw JWS signature:
    /// `r || s` for ES256 (RFC 7518 §3.4), 64 bytes for EdDSA, the modulus-sized block for RSA.
    public func sign(_ signingInput: [UInt8]) throws -> [UInt8] {
        switch backing {
        case .p256(let key): Array(try key.signature(for: signingInput).rawRepresentation)
        case .ed25519(let key): Array(try key.signature(for: signingInput))
        case .rsa(let key):
            Array(try key.signature(for: signingInput, padding: algorithm == .ps256 ? .PSS : .insecurePKCS1v1_5).rawRepresentation)
        }
    }
}
