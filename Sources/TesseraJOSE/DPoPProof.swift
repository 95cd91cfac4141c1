import Crypto
import Foundation

/// A DPoP proof (RFC 9449 §4.2): a JWS of type `dpop+jwt` signed with the key its
/// header's `jwk` carries, which the issuer and resource servers check as §4.3 and
/// §7.1 say (docs/binding.md).
///
/// ``init(_:)`` checks what needs no context (structure, `typ`, `alg` and `jwk`, the
/// signature, the claims' types); ``check(method:url:now:maximumAge:maximumSkew:accessToken:)``
/// checks it against the request. Remembering `jti` is the caller's: only it knows
/// where replays are counted.
public struct DPoPProof: Sendable {
    /// The `typ` a proof's header carries.
    public static let type = "dpop+jwt"
    /// Longest proof accepted, in bytes.
    public static let maximumLength = 8 * 1024
    /// Longest `jti` accepted.
    public static let maximumIDLength = 256
    /// The algorithms a proof may use: Tessera's asymmetric ones, never `none` or HMAC.
    public static let algorithms: [JWSAlgorithm] = JWSAlgorithm.allCases

    /// Why a proof is refused: the `error_description` of `invalid_dpop_proof`.
    public struct Invalid: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// The public key the proof was signed with, as its header gave it.
    public let jwk: JWK
    /// The RFC 7638 thumbprint of ``jwk``: what a bound token's `cnf.jkt` holds.
    public let thumbprint: String
    public let jti: String
    /// The HTTP method the proof is for.
    public let htm: String
    /// The URL the proof is for.
    public let htu: String
    public let iat: Int64
    /// base64url(SHA-256) of the access token the proof is presented with.
    public let ath: String?
    public let nonce: String?

    /// Parses a proof and verifies its signature with the key it carries.
    public init(_ proof: String) throws(Invalid) {
        guard proof.utf8.count <= Self.maximumLength else { throw Invalid("the DPoP proof exceeds \(Self.maximumLength) bytes") }
        let jws: CompactJWS
        do {
            jws = try CompactJWS(proof)
        } catch {
            throw Invalid("the DPoP proof is not a compact JWS")
        }
        guard jws.header.typ?.lowercased() == Self.type else { throw Invalid("the DPoP proof's typ must be \(Self.type)") }
        guard let algorithm = JWSAlgorithm(rawValue: jws.header.alg) else {
            throw Invalid("the DPoP proof's alg must be one of \(Self.algorithms.map(\.rawValue).joined(separator: ", "))")
        }
        // The header was read once already by CompactJWS; `jwk` is read from it here.
        guard let headerSegment = proof.split(separator: ".", maxSplits: 1).first,
            let headerBytes = Base64URL.decode(headerSegment),
            let header = try? JSONValue.parse(headerBytes).object,
            let jwkMembers = header["jwk"]?.object,
            var jwk = try? JWK(members: jwkMembers)
        else {
            throw Invalid("the DPoP proof's header must carry a jwk object")
        }
        guard !jwk.isPrivate, jwkMembers["k"] == nil, jwk.kty != "oct" else {
            throw Invalid("the DPoP proof's jwk must be a public key")
        }
        if let named = jwk.alg, named != algorithm.rawValue { throw Invalid("the DPoP proof's jwk is for another algorithm") }
        jwk = JWK(kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, n: jwk.n, e: jwk.e)
        var keyed = jwk
        keyed.alg = algorithm.rawValue
        let key: VerificationKey
        do {
            key = try VerificationKey(jwk: keyed)
            try jws.verify(with: key)
        } catch let error as JOSEError {
            throw Invalid("the DPoP proof does not verify with its jwk: \(error.reason)")
        } catch {
            throw Invalid("the DPoP proof does not verify with its jwk")
        }
        let claims: [String: JSONValue]
        do {
            guard let object = try JSONValue.parse(jws.payload).object else { throw Invalid("the DPoP proof's claims are not a JSON object") }
            claims = object
        } catch {
            throw Invalid("the DPoP proof's claims are not a JSON object")
        }
        func string(_ name: String, required: Bool = true) throws(Invalid) -> String? {
            guard let value = claims[name], value != .null else {
                if required { throw Invalid("the DPoP proof has no \(name)") }
                return nil
            }
            guard let text = value.string else { throw Invalid("the DPoP proof's \(name) is not a string") }
            return text
        }
        let jti = try string("jti")!
        guard !jti.isEmpty, jti.utf8.count <= Self.maximumIDLength else {
            throw Invalid("the DPoP proof's jti must be 1–\(Self.maximumIDLength) characters")
        }
        htm = try string("htm")!
        htu = try string("htu")!
        guard let iatValue = claims["iat"], let iat = iatValue.numericDate else { throw Invalid("the DPoP proof's iat is not a NumericDate") }
        ath = try string("ath", required: false)
        nonce = try string("nonce", required: false)
        self.jti = jti
        self.iat = iat
        self.jwk = jwk
        do {
            thumbprint = try jwk.thumbprint()
        } catch {
            throw Invalid("the DPoP proof's jwk has no thumbprint")
        }
    }

    /// Checks the proof against the request it came with (RFC 9449 §4.3 steps 8–12):
    /// `htm` is `method`; `htu` is `url`, both without query and fragment, scheme and
    /// host in any case and default ports ignored; `iat` at most `maximumAge` seconds
    /// old and `maximumSkew` ahead; with `accessToken`, `ath` is its hash, and
    /// without, `ath` is absent.
    public func check(
        method: String, url: String, now: Int64, maximumAge: Int64 = 300, maximumSkew: Int64 = 60, accessToken: String? = nil
    ) throws(Invalid) {
        guard htm == method else { throw Invalid("the DPoP proof is for another method") }
        guard let expected = Self.normalizedURL(url), let presented = Self.normalizedURL(htu), expected == presented else {
            throw Invalid("the DPoP proof is for another URL")
        }
        // Subtractions on client-sent numbers: iat is a NumericDate (years 1970–9999)
        // and now a clock reading, so neither can overflow.
        guard iat >= now - maximumAge else { throw Invalid("the DPoP proof is too old") }
        guard iat <= now + maximumSkew else { throw Invalid("the DPoP proof is issued in the future") }
        if let accessToken {
            // Both sides are public (a hash of the token presented beside it).
            guard let ath, ath == Self.accessTokenHash(accessToken) else {
                throw Invalid("the DPoP proof's ath does not match the access token")
            }
        }
    }

    /// `ath`: base64url(SHA-256) of the access token's ASCII bytes (RFC 9449 §4.2).
    public static func accessTokenHash(_ accessToken: String) -> String {
        Base64URL.encode(SHA256.hash(data: Array(accessToken.utf8)))
    }

    /// `url` as `htu` is compared (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2 and §6.2.3):
    /// without query and fragment, scheme and host lowercased, the scheme's default
    /// port dropped, an empty path as `/`; `nil` when it is not an absolute http(s) URL.
    public static func normalizedURL(_ url: String) -> String? {
        guard url.utf8.count <= 4096, var components = URLComponents(string: url),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else { return nil }
        components.query = nil
        components.fragment = nil
        components.scheme = scheme
        components.host = host.lowercased()
        if (scheme == "http" && components.port == 80) || (scheme == "https" && components.port == 443) { components.port = nil }
        if components.percentEncodedPath.isEmpty { components.percentEncodedPath = "/" }
        components.user = nil
        components.password = nil
        return components.string
    }

    /// Signs a proof for `method` and `url` with `key`; `accessToken` adds its `ath`,
    /// `nonce` the server's nonce.
    public static func sign(
        with key: SigningKey, method: String, url: String, iat: Int64, jti: String, accessToken: String? = nil, nonce: String? = nil
    ) throws -> String {
        let publicJWK = key.publicJWK
        var header = JSONOutput(capacity: 512)
        header.beginObject()
        header.member("typ", Self.type)
        header.member("alg", key.algorithm.rawValue)
        header.beginObject("jwk")
        header.member("kty", publicJWK.kty)
        for (name, value): (StaticString, String?) in [("crv", publicJWK.crv), ("x", publicJWK.x), ("y", publicJWK.y), ("n", publicJWK.n), ("e", publicJWK.e)] {
            if let value { header.member(name, value) }
        }
        header.endObject()
        header.endObject()
        var claims = JSONOutput(capacity: 256)
        claims.beginObject()
        claims.member("jti", jti)
        claims.member("htm", method)
        claims.member("htu", url)
        claims.member("iat", iat)
        if let accessToken { claims.member("ath", accessTokenHash(accessToken)) }
        if let nonce { claims.member("nonce", nonce) }
        claims.endObject()
        let signingInput = Base64URL.encode(header.bytes) + "." + Base64URL.encode(claims.bytes)
        return signingInput + "." + Base64URL.encode(try key.sign(Array(signingInput.utf8)))
    }
}

/// The `cnf` claim of a bound access token (RFC 7800 §3.1): the key its presenter
/// must prove it holds.
public struct Confirmation: Sendable, Hashable {
    /// The RFC 7638 thumbprint of the DPoP key (RFC 9449 §6.1).
    public var jkt: String?
    /// base64url(SHA-256) of the client certificate's DER (RFC 8705 §3.1), `x5t#S256`.
    public var x5tS256: String?

    public init(jkt: String? = nil, x5tS256: String? = nil) {
        self.jkt = jkt
        self.x5tS256 = x5tS256
    }

    public var isEmpty: Bool { jkt == nil && x5tS256 == nil }

    /// `x5t#S256` of a DER certificate.
    public static func certificateThumbprint(der: [UInt8]) -> String {
        Base64URL.encode(SHA256.hash(data: der))
    }

    /// Reads `cnf`: an object whose `jkt` and `x5t#S256`, when present, are strings.
    /// Any other confirmation method is refused: a token bound in a way the reader
    /// cannot check must not pass as a bearer token.
    init(json value: JSONValue) throws {
        guard let members = value.object else { throw JOSEError.malformed("cnf is not an object") }
        guard members.keys.allSatisfy({ $0 == "jkt" || $0 == "x5t#S256" }) else {
            throw JOSEError.malformed("cnf names a confirmation method other than jkt and x5t#S256")
        }
        jkt = try members.optional("jkt", \.string)
        x5tS256 = try members.optional("x5t#S256", \.string)
        guard jkt != nil || x5tS256 != nil else { throw JOSEError.malformed("cnf names no confirmation method") }
    }

    /// Writes the members of `cnf` into an open object.
    func write(into output: inout JSONOutput) {
        if let jkt { output.member("jkt", jkt) }
        if let x5tS256 { output.member("x5t#S256", x5tS256) }
    }
}

extension Confirmation: Codable {
    enum CodingKeys: String, CodingKey {
        case jkt
        case x5tS256 = "x5t#S256"
    }

    /// Any member name, to find the ones ``init(json:)`` refuses.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// As ``init(json:)`` reads it.
    public init(from decoder: any Decoder) throws {
        let names = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard names.allSatisfy({ $0 == "jkt" || $0 == "x5t#S256" }) else {
            throw DecodingError.dataCorruptedError(
                forKey: .jkt, in: container, debugDescription: "cnf names a confirmation method other than jkt and x5t#S256")
        }
        jkt = try container.decodeIfPresent(String.self, forKey: .jkt)
        x5tS256 = try container.decodeIfPresent(String.self, forKey: .x5tS256)
        guard jkt != nil || x5tS256 != nil else {
            throw DecodingError.dataCorruptedError(forKey: .jkt, in: container, debugDescription: "cnf names no confirmation method")
        }
    }
}
