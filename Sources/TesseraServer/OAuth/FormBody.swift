import Foundation
import Hummingbird
import TesseraCore

/// An `application/x-www-form-urlencoded` body (HTML 4.01 §17.13.4, as RFC 6749
/// Appendix B uses it).
///
/// Parameters sent without a value are treated as omitted (RFC 6749 §3.1); a
/// parameter given twice is refused (§3.1, "Request and response parameters
/// MUST NOT be included more than once"), except those listed as repeatable.
struct FormBody {
    private(set) var values: [String: [String]] = [:]

    enum ParseError: Error, Equatable {
        case malformedEncoding
        case duplicate(String)
    }

    init(_ bytes: [UInt8], repeatable: Set<String> = []) throws(ParseError) {
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

    subscript(name: String) -> String? { values[name]?.first }

    /// Reads the body of an OAuth endpoint request: it must be
    /// `application/x-www-form-urlencoded`, at most `limit` bytes, well encoded,
    /// and repeat no parameter outside `repeatable`.
    static func read(_ request: Request, upTo limit: Int, repeatable: Set<String> = []) async throws -> FormBody {
        guard request.headers.value(of: .contentType)?.hasMediaType("application/x-www-form-urlencoded") == true else {
            throw OAuthError.invalidRequest("the body must be application/x-www-form-urlencoded")
        }
        let bytes = try await request.collectBody(upTo: limit)
        do {
            return try FormBody(bytes, repeatable: repeatable)
        } catch .duplicate(let name) {
            throw OAuthError.invalidRequest("parameter \(name) is repeated")
        } catch {
            throw OAuthError.invalidRequest("the form body is not valid form-url-encoding")
        }
    }

    func all(_ name: String) -> [String] { values[name] ?? [] }

    /// Form-url-decodes: `+` is a space, `%XX` a byte; the result must be UTF-8
    /// without control characters other than none at all.
    static func decode(_ bytes: some Collection<UInt8>) -> String? {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                output.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                output.append(high << 4 | low)
            default:
                output.append(byte)
            }
        }
        // Control characters are single bytes in UTF-8: no byte of a multi-byte
        // sequence is below 0x80, so the bytes can be checked before decoding.
        guard !output.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return nil }
        return String(validating: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
