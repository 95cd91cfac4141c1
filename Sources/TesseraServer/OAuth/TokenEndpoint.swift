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

    func handle(_ request: Request, context: some RequestContext) async -> Response {
        do {
            let token = try await issue(request)
            issued.increment()
            return .json(
                Success(accessToken: token.accessToken, expiresIn: token.expiresIn, scope: token.scope),
                headers: [.cacheControl: "no-store", .pragma: "no-cache"]
            )
        } catch let error as OAuthError {
            failures.increment()
            return error.response()
        } catch let error as BodyTooLarge {
            failures.increment()
            return OAuthError.invalidRequest(error.description).response(status: .contentTooLarge)
        } catch {
            failures.increment()
            return OAuthError.invalidRequest("the request could not be read").response()
        }
    }

    private func issue(_ request: Request) async throws -> TokenService.IssuedToken {
        guard let contentType = request.headers[.contentType],
              contentType.lowercased().split(separator: ";").first?.trimmingCharacters(in: .whitespaces) == "application/x-www-form-urlencoded"
        else {
            throw OAuthError.invalidRequest("the body must be application/x-www-form-urlencoded")
        }
        let bytes = try await request.collectBody(upTo: Self.maximumBodySize)
        let form: FormBody
        do {
            form = try FormBody(bytes, repeatable: ["resource"])
        } catch .duplicate(let name) {
            throw OAuthError.invalidRequest("parameter \(name) is repeated")
        } catch {
            throw OAuthError.invalidRequest("the form body is not valid form-url-encoding")
        }
        guard let grantType = form["grant_type"] else { throw OAuthError.invalidRequest("grant_type is missing") }
        guard grantType == "client_credentials" else {
            throw OAuthError.unsupportedGrantType("only client_credentials is supported")
        }
        guard let credentials = try ClientCredentials.extract(from: request.headers, form: form) else {
            throw OAuthError.invalidClient("client authentication is required")
        }
        let client = try await tessera.tokens.authenticate(clientID: credentials.clientID, secret: credentials.secret)
        var audiences = form.all("resource")
        if let audience = form["audience"] { audiences.append(audience) }
        return try tessera.tokens.issue(for: client, scope: form["scope"], audiences: audiences)
    }
}
