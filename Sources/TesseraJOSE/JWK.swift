import Crypto
import Foundation

/// A JSON Web Key (RFC 7517 §4), with the members of the key types Tessera uses:
/// EC P-256, OKP Ed25519 (RFC 8037) and RSA.
///
/// Private members (`d`, `p`, `q`) are read so that published test vectors and
/// imported keys can be loaded; ``publicKey`` strips them, and Tessera never
/// serves a JWK that has them.
public struct JWK: Codable, Sendable, Hashable {
    public var kty: String
    public var kid: String?
    public var use: String?
    public var alg: String?
    public var crv: String?
    public var x: String?
    public var y: String?
    public var n: String?
    public var e: String?
    public var d: String?
    public var p: String?
    public var q: String?

    public init(
        kty: String, kid: String? = nil, use: String? = nil, alg: String? = nil,
        crv: String? = nil, x: String? = nil, y: String? = nil,
        n: String? = nil, e: String? = nil,
        d: String? = nil, p: String? = nil, q: String? = nil
    ) {
        self.kty = kty
        self.kid = kid
        self.use = use
        self.alg = alg
        self.crv = crv
        self.x = x
        self.y = y
        self.n = n
        self.e = e
        self.d = d
        self.p = p
        self.q = q
    }

    /// Reads a JWK from a parsed JSON object: `kty` is required, the other
    /// members above are strings when present (`null` counts as absent), and
    /// members Tessera does not use are ignored.
    package init(members: [String: JSONValue]) throws {
        guard let kty = members["kty"]?.string else { throw JOSEError.invalidKey("a JWK needs a string \"kty\"") }
        self.init(
            kty: kty, kid: try members.optional("kid", \.string), use: try members.optional("use", \.string),
            alg: try members.optional("alg", \.string), crv: try members.optional("crv", \.string),
            x: try members.optional("x", \.string), y: try members.optional("y", \.string),
            n: try members.optional("n", \.string), e: try members.optional("e", \.string),
            d: try members.optional("d", \.string), p: try members.optional("p", \.string), q: try members.optional("q", \.string)
        )
    }

    /// This key without any private member.
    public var publicKey: JWK {
        var copy = self
        copy.d = nil
        copy.p = nil
        copy.q = nil
        return copy
    }

    /// True when the key carries private material.
    public var isPrivate: Bool { d != nil || p != nil || q != nil }

    /// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic
    /// order with no whitespace, base64url-encoded.
    public func thumbprint() throws -> String {
        func required(_ value: String?, _ name: String) throws -> String {
            guard let value, !value.isEmpty else { throw JOSEError.invalidKey("JWK of type \(kty) lacks \"\(name)\"") }
            return value
        }
        let canonical: String
        switch kty {
        case "EC":
            canonical = #"{"crv":"\#(try required(crv, "crv"))","kty":"EC","x":"\#(try required(x, "x"))","y":"\#(try required(y, "y"))"}"#
        case "OKP":
            canonical = #"{"crv":"\#(try required(crv, "crv"))","kty":"OKP","x":"\#(try required(x, "x"))"}"#
        case "RSA":
            canonical = #"{"e":"\#(try required(e, "e"))","kty":"RSA","n":"\#(try required(n, "n"))"}"#
        default:
            throw JOSEError.invalidKey("unsupported key type \"\(kty)\"")
        }
        // Member values are base64url or fixed names, so no JSON escaping is needed;
        // reject anything else rather than hash a non-canonical form.
        guard canonical.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }) else {
            throw JOSEError.invalidKey("JWK members contain characters outside base64url")
        }
        return Base64URL.encode(SHA256.hash(data: Array(canonical.utf8)))
    }
}

/// A JWK Set (RFC 7517 §5).
public struct JWKSet: Codable, Sendable, Hashable {
    public var keys: [JWK]

    public init(keys: [JWK]) {
        self.keys = keys
    }
}
