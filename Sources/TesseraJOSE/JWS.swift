import Foundation

/// The protected header of a JWS (RFC 7515 §4.1), limited to what Tessera reads.
public struct JWSHeader: Codable, Sendable, Hashable {
    public var alg: String
    public var kid: String?
    public var typ: String?
    /// Present only to be refused: Tessera understands no critical extension (RFC 7515 §4.1.11).
    public var crit: [String]?

    public init(alg: String, kid: String? = nil, typ: String? = nil) {
        self.alg = alg
        self.kid = kid
        self.typ = typ
    }

    /// Reads a header: `alg` a string; `kid` and `typ` strings and `crit` an
    /// array of strings when present (`null` counts as absent); other members
    /// are ignored.
    public init(json bytes: [UInt8]) throws {
        guard let members = try JSONValue.parse(bytes).object, let alg = members["alg"]?.string else {
            throw JOSEError.malformed("header is not a JSON object with \"alg\"")
        }
        self.alg = alg
        kid = try members.optional("kid", \.string)
        typ = try members.optional("typ", \.string)
        crit = try members.optional("crit", \.strings)
    }
}

extension [String: JSONValue] {
    /// The member `name` read by `read`; `nil` when absent or `null`, an error when of another type.
    func optional<T>(_ name: String, _ read: (JSONValue) -> T?) throws -> T? {
        guard let value = self[name], value != .null else { return nil }
        guard let read = read(value) else { throw JOSEError.malformed("\(name) has the wrong type") }
        return read
    }
}

/// A JWS in compact serialization (RFC 7515 §7.1), split and decoded but not yet verified.
public struct CompactJWS: Sendable {
    /// Longest token accepted, in bytes; anything larger is refused before decoding.
    public static let maximumLength = 16 * 1024

    public let header: JWSHeader
    /// The decoded payload bytes.
    public let payload: [UInt8]
    /// The raw signature bytes.
    public let signature: [UInt8]
    /// The ASCII bytes of `BASE64URL(header) "." BASE64URL(payload)`.
    public let signingInput: [UInt8]

    /// Splits and decodes a compact JWS. It checks structure only: three segments,
    /// strict base64url, a JSON header naming `alg`, and no `crit`.
    public init(_ token: String) throws {
        let utf8 = token.utf8
        guard utf8.count <= Self.maximumLength else { throw JOSEError.tooLarge("token exceeds \(Self.maximumLength) bytes") }
        let bytes = Array(utf8)
        guard let firstDot = bytes.firstIndex(of: UInt8(ascii: ".")),
            let secondDot = bytes[(firstDot + 1)...].firstIndex(of: UInt8(ascii: "."))
        else {
            throw JOSEError.malformed("a compact JWS has three dot-separated segments")
        }
        guard bytes[(secondDot + 1)...].firstIndex(of: UInt8(ascii: ".")) == nil else {
            throw JOSEError.malformed("a compact JWS has three dot-separated segments")
        }
        let headerSegment = bytes[..<firstDot]
        let payloadSegment = bytes[(firstDot + 1)..<secondDot]
        let signatureSegment = bytes[(secondDot + 1)...]
        guard !headerSegment.isEmpty, !payloadSegment.isEmpty, !signatureSegment.isEmpty else {
            throw JOSEError.malformed("a JWS segment is empty")
        }
        guard let headerBytes = Base64URL.decode(bytes: headerSegment) else { throw JOSEError.malformed("header is not base64url") }
        guard let payload = Base64URL.decode(bytes: payloadSegment) else { throw JOSEError.malformed("payload is not base64url") }
        guard let signature = Base64URL.decode(bytes: signatureSegment) else { throw JOSEError.malformed("signature is not base64url") }
        let header: JWSHeader
        do {
            header = try JWSHeader(json: headerBytes)
        } catch {
            throw JOSEError.malformed("header is not a JSON object with \"alg\"")
        }
        guard header.crit == nil else { throw JOSEError.malformed("critical header extensions are not supported") }
        self.header = header
        self.payload = payload
        self.signature = signature
        self.signingInput = Array(bytes[..<secondDot])
    }

    /// Verifies the signature with `key`, after checking that the header's `alg`
    /// is the key's algorithm. `none` and any unknown algorithm never pass.
    public func verify(with key: VerificationKey) throws {
        guard let algorithm = JWSAlgorithm(rawValue: header.alg) else {
            throw JOSEError.unsupportedAlgorithm("algorithm \"\(header.alg)\" is not accepted")
        }
        guard algorithm == key.algorithm else {
            throw JOSEError.algorithmMismatch("header algorithm \(header.alg) does not match the key's \(key.algorithm.rawValue)")
        }
        guard key.isValidSignature(signature, for: signingInput) else {
            throw JOSEError.invalidSignature("signature does not verify")
        }
    }

    /// Verifies against a key chosen by the header's `kid` from `keys`.
    public func verify(with keys: KeySet) throws {
        guard let kid = header.kid else { throw JOSEError.unknownKeyID("token header has no \"kid\"") }
        guard let key = keys[kid] else { throw JOSEError.unknownKeyID("no key with kid \"\(kid)\"") }
        try verify(with: key)
    }
}

/// Signs compact JWS.
public enum JWS {
    /// Signs `payload` with `key` under the header `{"alg","kid","typ"}`.
    public static func sign(payload: [UInt8], with key: SigningKey, type: String? = nil) throws -> String {
        let headerSegment: String
        if type == "at+jwt" {
            headerSegment = key.accessTokenHeaderSegment
        } else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            headerSegment = Base64URL.encode(try encoder.encode(JWSHeader(alg: key.algorithm.rawValue, kid: key.keyID, typ: type)))
        }
        let signingInput = headerSegment + "." + Base64URL.encode(payload)
        let signature = try key.sign(Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }
}

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
