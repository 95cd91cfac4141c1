import HTTPTypes

extension HTTPField.Name {
    /// `Pragma` (RFC 9111 §5.4), still expected beside `Cache-Control` on token responses (RFC 6749 §5.1).
    static let pragma = HTTPField.Name("Pragma")!
    /// `X-Request-ID`.
    static let requestID = HTTPField.Name("X-Request-ID")!
    /// Rezolve's tenant header.
    static let tenantID = HTTPField.Name("x-tenantid")!
    /// Keycard's caller-chosen request id, echoed.
    static let clientRequestID = HTTPField.Name("X-Client-Request-ID")!
    /// Ctrl Hub's session header, which carries an access token.
    static let sessionToken = HTTPField.Name("X-Session-Token")!
}

extension HTTPFields {
    /// The value of `name` as `self[name]` gives it (every field of that name
    /// joined by ", "), without the join when the field appears once: HTTPTypes
    /// joins through a lazy map even then, which cost 1.4 % of a token request
    /// for the three fields the OAuth endpoints read.
    func value(of name: HTTPField.Name) -> String? {
        guard let first = firstIndex(where: { $0.name == name }) else { return nil }
        if self[index(after: first)...].contains(where: { $0.name == name }) { return self[name] }
        return self[first].value
    }
}
