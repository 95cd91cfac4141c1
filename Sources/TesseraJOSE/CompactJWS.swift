import Foundation

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
