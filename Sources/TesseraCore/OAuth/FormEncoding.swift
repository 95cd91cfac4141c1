import TesseraJOSE

/// An `application/x-www-form-urlencoded` body (HTML 4.01 §17.13.4, as RFC 6749
/// Appendix B uses it).
///
/// Parameters sent without a value are treated as omitted (RFC 6749 §3.1); a
/// parameter given twice is refused (§3.1, "Request and response parameters
/// MUST NOT be included more than once"), except those listed as repeatable.
///
/// Pure byte parsing, so that it can be tested and fuzzed without an HTTP server;
/// TesseraServer reads a request's body into it.
public struct FormBody: Sendable {
    public private(set) var values: [String: [String]] = [:]

    public enum ParseError: Error, Equatable, Sendable {
        case malformedEncoding
        case duplicate(String)
    }

    public init(_ bytes: [UInt8], repeatable: Set<String> = []) throws(ParseError) {
        for pair in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = FormBody.decode(parts[0]) else { throw .malformedEncoding }
            let value: String
            if parts.count == 2 {
                guard let decoded = FormBody.decode(parts[1]) else { throw .malformedEncoding }
                value = decoded
            } else {
                value = ""
            }
            if value.isEmpty || name.isEmpty { continue }
            if values[name] != nil, !repeatable.contains(name) { throw .duplicate(name) }
            values[name, default: []].append(value)
        }
    }

    /// The value of `name`; the first one for a repeatable parameter.
    public subscript(name: String) -> String? { values[name]?.first }

    /// Every value of `name`, in the order sent.
    public func all(_ name: String) -> [String] { values[name] ?? [] }

    /// Form-url-decodes: `+` is a space, `%XX` a byte; the result must be UTF-8
    /// without control characters other than none at all.
    public static func decode(_ bytes: some Collection<UInt8>) -> String? {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                output.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(HexDigit.value), let low = iterator.next().flatMap(HexDigit.value) else { return nil }
                output.append(high << 4 | low)
            default:
                output.append(byte)
            }
        }
        // Control characters are single bytes in UTF-8: no byte of a multi-byte
        // sequence is below 0x80, so the bytes can be checked before decoding.
        var ascii = true
        for byte in output {
            if byte < 0x20 || byte == 0x7F { return nil }
            if byte >= 0x80 { ascii = false }
        }
        // ASCII is valid UTF-8 as it is (the common case: tokens, ids, secrets).
        return ascii ? String(decoding: output, as: UTF8.self) : String(validating: output, as: UTF8.self)
    }
}

/// The client id and secret of an `Authorization: Basic` header
/// (`client_secret_basic`, RFC 6749 §2.3.1, with the Appendix B
/// form-url-decoding of id and secret; RFC 7617 for the scheme).
public struct BasicCredentials: Sendable, Hashable {
    public let clientID: String
    public let secret: String

    public enum ParseError: Error, Equatable, Sendable {
        /// The header does not start with `Basic ` (in any case).
        case notBasicScheme
        /// The scheme is Basic but what follows is not `base64(id ":" secret)`
        /// with a non-empty, well form-url-encoded id and a well encoded secret.
        case malformed
    }

    public init(clientID: String, secret: String) {
        self.clientID = clientID
        self.secret = secret
    }

    /// Parses the value of an `Authorization` header, given as its bytes: the
    /// scheme `Basic` in any case and one space, then optional spaces and tabs
    /// around strictly padded base64 (``TesseraJOSE/Base64``) of
    /// `id ":" secret`, split at the first colon, each side form-url-decoded
    /// (``FormBody/decode(_:)``); an empty id is refused.
    public static func parse(authorization header: [UInt8]) throws(ParseError) -> BasicCredentials {
        guard header.prefix(6).equalsIgnoringASCIICase("basic ".utf8) else { throw .notBasicScheme }
        let encoded = header.dropFirst(6).trimmingOptionalWhitespace()
        // The colon cannot sit inside a multi-byte UTF-8 sequence; each side is
        // validated as UTF-8 when form-url-decoded.
        guard let decoded = Base64.decode(encoded),
            let colon = decoded.firstIndex(of: UInt8(ascii: ":")),
            let id = FormBody.decode(decoded[..<colon]),
            let secret = FormBody.decode(decoded[(colon + 1)...]),
            !id.isEmpty
        else {
            throw .malformed
        }
        return BasicCredentials(clientID: id, secret: secret)
    }
}

/// Header-field helpers on bytes, for what the hot path reads as UTF-8.
///
/// `@inlinable` so that callers in other modules get a copy specialized to their
/// collection types: called unspecialized from TesseraServer, the generic `zip` and
/// `allSatisfy` looked up type metadata at run time on every call, 6 % of a token
/// request's CPU (Benchmarks/README.md).
extension BidirectionalCollection<UInt8> {
    /// Without leading and trailing spaces and tabs (HTTP's OWS, RFC 9110 §5.6.3).
    @inlinable package func trimmingOptionalWhitespace() -> SubSequence {
        let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }

    /// Whether these bytes are `lowercase` with any ASCII letters in either case
    /// (how HTTP compares schemes and media types).
    @inlinable package func equalsIgnoringASCIICase(_ lowercase: some Collection<UInt8>) -> Bool {
        count == lowercase.count
            && zip(self, lowercase).allSatisfy { byte, wanted in
                (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte) == wanted
            }
    }
}
