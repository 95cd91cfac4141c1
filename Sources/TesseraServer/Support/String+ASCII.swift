import TesseraCore

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's OWS, RFC 9110 §5.6.3).
    /// Foundation's `trimmingCharacters(in:)` bridges through NSString and cost
    /// about 5 % of a token request.
    func trimmingOptionalWhitespace() -> SubSequence {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }

    /// Whether this `Content-Type` value names `expected` (given in lower case),
    /// parameters aside, compared byte by byte without building a string (with
    /// TesseraCore's byte helpers, FormEncoding.swift): the OAuth endpoints ask it
    /// on every request.
    func hasMediaType(_ expected: String) -> Bool {
        var type = Substring(self).utf8
        if let semicolon = type.firstIndex(of: UInt8(ascii: ";")) { type = type[..<semicolon] }
        return type.trimmingOptionalWhitespace().equalsIgnoringASCIICase(expected.utf8)
    }
}
