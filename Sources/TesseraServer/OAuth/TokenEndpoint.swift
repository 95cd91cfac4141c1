import Hummingbird
import Metrics
import TesseraCore
import TesseraJOSE

/// `POST /oauth2/token`: the client-credentials grant (RFC 6749 §4.4), and token
/// exchange (RFC 8693) of an outside issuer's token or of Tessera's own
/// (docs/federation.md).
struct TokenEndpoint: Sendable {
    /// Largest form body accepted.
    static let maximumBodySize = 16 * 1024
    /// The parameters that may repeat (RFC 8707 §2, RFC 8693 §2.1).
    static let repeatable: Set<String> = ["resource", "audience"]
    static let tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    /// The token types RFC 8693 §3 names that a subject token may be.
    static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
    static let subjectTokenTypes: Set<String> = [
        "urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token", accessTokenType,
    ]

    let tessera: Tessera
    private let issued = Counter(label: "tessera_tokens_issued_total")
    private let failures = Counter(label: "tessera_token_errors_total")
    private let rateLimited = Counter(label: "tessera_token_rate_limited_total")

    init(tessera: Tessera) {
        self.tessera = tessera
    }

    /// The RFC 6749 §5.1 answer, written directly: every token pays for it.
    static func success(_ token: TokenService.IssuedToken, exchanged: Bool = false) -> Response {
        var body = JSONOutput(capacity: token.accessToken.utf8.count + 160)
        body.beginObject()
        body.member("access_token", token.accessToken)
        if exchanged { body.member("issued_token_type", accessTokenType) }
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
            let requestID = context.logger[metadataKey: "request_id"].map { "\($0)" }
            let (token, exchanged) = try await issue(request, peer: context.peer, requestID: requestID)
            issued.increment()
            return Self.success(token, exchanged: exchanged)
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

    private func issue(_ request: Request, peer: String, requestID: String?) async throws -> (TokenService.IssuedToken, exchanged: Bool) {
        let form = try await FormBody.read(request, upTo: Self.maximumBodySize, repeatable: Self.repeatable)
        guard let grantType = form["grant_type"] else { throw OAuthError.invalidRequest("grant_type is missing") }
        let audiences = form.all("resource") + form.all("audience")
        switch grantType {
        case "client_credentials":
            let client = try await ClientCredentials.authenticate(
                request, form: form, peer: peer, with: tessera.tokens, federation: tessera.federation, requestID: requestID)
            return (try tessera.tokens.issue(for: client, scope: form["scope"], audiences: audiences), false)
        case Self.tokenExchange:
            let client = try await exchange(request, form: form, peer: peer, requestID: requestID)
            return (try tessera.tokens.issue(for: client, scope: form["scope"], audiences: audiences), true)
        default:
            throw OAuthError.unsupportedGrantType("the grant types are client_credentials and \(Self.tokenExchange)")
        }
    }

    /// Token exchange (RFC 8693 §2.1): the subject token is the proof, so the request
    /// carries no client authentication; `client_id` may name the account meant.
    private func exchange(_ request: Request, form: FormBody, peer: String, requestID: String?) async throws -> TokenService.AuthenticatedClient {
        guard let subjectToken = form["subject_token"] else { throw OAuthError.invalidRequest("subject_token is missing") }
        guard let subjectType = form["subject_token_type"] else { throw OAuthError.invalidRequest("subject_token_type is missing") }
        guard Self.subjectTokenTypes.contains(subjectType) else {
            throw OAuthError.invalidRequest("subject_token_type must be one of \(Self.subjectTokenTypes.sorted().joined(separator: ", "))")
        }
        if let requested = form["requested_token_type"], requested != Self.accessTokenType, requested != "urn:ietf:params:oauth:token-type:jwt" {
            throw OAuthError.invalidRequest("requested_token_type must be \(Self.accessTokenType)")
        }
        guard request.headers[.authorization] == nil, form["client_secret"] == nil, form["client_assertion"] == nil else {
            throw OAuthError.invalidRequest("token exchange takes no client authentication: the subject token is the proof")
        }
        let actorToken = form["actor_token"]
        if actorToken != nil {
            guard let actorType = form["actor_token_type"] else { throw OAuthError.invalidRequest("actor_token_type is missing") }
            guard actorType == Self.accessTokenType || actorType == "urn:ietf:params:oauth:token-type:jwt" else {
                throw OAuthError.invalidRequest("actor_token_type must be \(Self.accessTokenType)")
            }
        } else if form["actor_token_type"] != nil {
            throw OAuthError.invalidRequest("actor_token_type was sent without actor_token")
        }
        if (try? ExternalToken(subjectToken))?.issuer == tessera.issuer {
            return try await tessera.tokens.exchange(
                ownToken: subjectToken, actorToken: actorToken, from: peer, with: tessera.federation, requestID: requestID)
        }
        guard actorToken == nil else { throw OAuthError.invalidRequest("actor_token is accepted with Tessera's own access tokens only") }
        return try await tessera.tokens.exchange(
            subjectToken: subjectToken, clientID: form["client_id"], from: peer, with: tessera.federation, requestID: requestID)
    }
}
