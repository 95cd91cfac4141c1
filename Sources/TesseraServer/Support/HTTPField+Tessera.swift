import HTTPTypes

extension HTTPField.Name {
    /// `Pragma` (RFC 9111 §5.4), still expected beside `Cache-Control` on token responses (RFC 6749 §5.1).
    static let pragma = HTTPField.Name("Pragma")!
    /// `X-Request-ID`.
    static let requestID = HTTPField.Name("X-Request-ID")!
}
