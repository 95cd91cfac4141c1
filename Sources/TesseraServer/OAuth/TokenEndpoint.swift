import Hummingbird
import Metrics
import TesseraCore

/// `POST /oauth2/token`: the client-credentials grant (RFC 6749 §4.4).
struct TokenEndpoint: Sendable {
    /// Largest form body accepted.
    static let maximumBodySize = 16 * 1024

    let tessera: Tessera
    private let issued = Counter(label: "tessera_tokens_issued_total")
    private let failures = Counter(label: "tessera_token_errors_total")
    private let rateLimited = Counter(label: "tessera_token_rate_limited_total")

    init(tessera: Tessera) {
        self.tessera = tessera
    }

    private struct Success: Encodable {
        let accessToken: String
        let tokenType = "Bearer"
        let expiresIn: Int
        let scope: String

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case tokenType = "token_type"
            case expiresIn = "expires_in"
            case scope
        }
    }

    func handle(_ request: Request, context: TesseraRequestContext) async -> Response {
        do {
            let token = try await issue(request, peer: context.peer)
            issued.increment()
            return .json(
                Success(accessToken: token.accessToken, expiresIn: token.expiresIn, scope: token.scope),
                headers: [.cacheControl: "no-store", .pragma: "no-cache"]
            )
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
        let form = try await FormBody.read(request, upTo: Self.maximumBodySize, repeatable: ["resource"])
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
