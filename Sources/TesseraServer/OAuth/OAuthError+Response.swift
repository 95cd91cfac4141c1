import Hummingbird
import TesseraCore

extension TokenService.Throttled {
    /// 429 with `Retry-After` (RFC 6585 §4), in the OAuth error shape.
    var response: Response {
        OAuthError.temporarilyUnavailable("too many failed client authentications; retry after \(retryAfter) s")
            .response(status: .tooManyRequests, headers: [.retryAfter: "\(retryAfter)"])
    }
}

extension OAuthError {
    /// The HTTP status RFC 6749 §5.2 (and RFC 8707 §2) gives this error.
    var status: HTTPResponse.Status {
        switch code {
        case "invalid_client": .unauthorized
        case "server_error": .internalServerError
        case "temporarily_unavailable": .serviceUnavailable
        default: .badRequest
        }
    }

    private struct Body: Encodable {
        let error: String
        let errorDescription: String

        enum CodingKeys: String, CodingKey {
            case error
            case errorDescription = "error_description"
        }
    }

    /// The JSON error response with `Cache-Control: no-store` and `Pragma: no-cache`;
    /// `invalid_client` carries `WWW-Authenticate` (RFC 6749 §5.2).
    func response(status override: HTTPResponse.Status? = nil, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.cacheControl: "no-store", .pragma: "no-cache"]
        if code == "invalid_client" { headers[.wwwAuthenticate] = #"Basic realm="tessera", charset="UTF-8""# }
        if code == "temporarily_unavailable" { headers[.retryAfter] = "1" }
        for field in extra { headers[field.name] = field.value }
        return .json(Body(error: code, errorDescription: errorDescription), status: override ?? status, headers: headers)
    }
}
