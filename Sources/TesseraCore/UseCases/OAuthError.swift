/// An OAuth 2.0 error response (RFC 6749 §5.2, RFC 8707 §2, RFC 6750 §3.1).
///
/// The description is for the client developer: it never echoes a secret or
/// says which half of a credential was wrong.
public struct OAuthError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public let errorDescription: String

    public init(code: String, description: String) {
        self.code = code
        self.errorDescription = description
    }

    public static func invalidRequest(_ description: String) -> OAuthError { OAuthError(code: "invalid_request", description: description) }
    public static func invalidClient(_ description: String = "client authentication failed") -> OAuthError {
        OAuthError(code: "invalid_client", description: description)
    }
    public static func invalidGrant(_ description: String) -> OAuthError { OAuthError(code: "invalid_grant", description: description) }
    public static func unauthorizedClient(_ description: String) -> OAuthError { OAuthError(code: "unauthorized_client", description: description) }
    public static func unsupportedGrantType(_ description: String) -> OAuthError { OAuthError(code: "unsupported_grant_type", description: description) }
    public static func invalidScope(_ description: String) -> OAuthError { OAuthError(code: "invalid_scope", description: description) }
    public static func invalidTarget(_ description: String) -> OAuthError { OAuthError(code: "invalid_target", description: description) }
    public static func serverError(_ description: String) -> OAuthError { OAuthError(code: "server_error", description: description) }
    public static func temporarilyUnavailable(_ description: String) -> OAuthError {
        OAuthError(code: "temporarily_unavailable", description: description)
    }

    public var description: String { "\(code): \(errorDescription)" }
}
