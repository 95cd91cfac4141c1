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
}
