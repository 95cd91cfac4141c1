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

    /// The media type of a `Content-Type` value, lower-cased, without parameters.
    var mediaType: String {
        (split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").trimmingOptionalWhitespace().lowercased()
    }
}
