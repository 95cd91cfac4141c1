import Hummingbird
import Metrics
import TesseraCore
import TesseraJOSE

/// `POST /oauth2/token`: the client-credentials grant (RFC 6749 §4.4).
struct TokenEndpoint: Sendable {
    /// Largest form body accepted.
    static let maximumBodySize = 16 * 1024
    /// The one parameter that may repeat (RFC 8707 §2).
    static let repeatable: Set<String> = ["resource"]

    let tessera: Tessera
    private let issued = Counter(label: "tessera_tokens_issued_total")
    private let failures = Counter(label: "tessera_token_errors_total")
    private let rateLimited = Counter(label: "tessera_token_rate_limited_total")

    init(tessera: Tessera) {
        self.tessera = tessera
    }

    /// The RFC 6749 §5.1 answer, written directly: every token pays for it.
    static func success(_ token: TokenService.IssuedToken) -> Response {
        var body = JSONOutput(capacity: token.accessToken.utf8.count + 96)
        body.beginObject()
        body.member("access_token", token.accessToken)
        body.member("token_type", "Bearer")
        body.member("expires_in", Int64(token.expiresIn))
        body.member("scope", token.scope)
        body.endObject()
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .cacheControl: "no-store", .pragma: "no-cache"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body.bytes))
        )
    }

    func handle(_ request: Request, context: TesseraRequestContext) async -> Response {
        do {
            let token = try await issue(request, peer: context.peer)
            issued.increment()
            return Self.success(token)
        } catch let error as OAuthError {
            failures.increment()
            return error.response()
        } catch let throttled as TokenService.Throttled {
            failures.increment()
            return throttled.response
        } catch let limited as TokenService.RateLimited {
            rateLimited.increment()
            return OAuthError.temporarilyUnavailable("this client obtains tokens too fast; retry after \(limited.retryAfter) s")
                .response(status: .tooManyRequests, headers: [.retryAfter: "\(limited.retryAfter)"])
        } catch let error as BodyTooLarge {
            failures.increment()
            return OAuthError.invalidRequest(error.description).response(status: .contentTooLarge)
        } catch {
            failures.increment()
            return OAuthError.invalidRequest("the request could not be read").response()
        }
    }

    private func issue(_ request: Request, peer: String) async throws -> TokenService.IssuedToken {
        let form = try await FormBody.read(request, upTo: Self.maximumBodySize, repeatable: Self.repeatable)
        guard let grantType = form["grant_type"] else { throw OAuthError.invalidRequest("grant_type is missing") }
        guard grantType == "client_credentials" else {
            throw OAuthError.unsupportedGrantType("only client_credentials is supported")
        }
        let client = try await ClientCredentials.authenticate(request, form: form, peer: peer, with: tessera.tokens)
        var audiences = form.all("resource")
        if let audience = form["audience"] { audiences.append(audience) }
        return try tessera.tokens.issue(for: client, scope: form["scope"], audiences: audiences)
    }
}
