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
    /// Where client certificates come from (docs/binding.md).
    let certificates: ClientCertificates
    private let issued = Counter(label: "tessera_tokens_issued_total")
    private let failures = Counter(label: "tessera_token_errors_total")
    private let rateLimited = Counter(label: "tessera_token_rate_limited_total")

    init(tessera: Tessera, certificates: ClientCertificates = .none) {
        self.tessera = tessera
        self.certificates = certificates
    }

    /// The RFC 6749 §5.1 answer, written directly: every token pays for it.
    static func success(_ token: TokenService.IssuedToken, exchanged: Bool = false, headers extra: HTTPFields = [:]) -> Response {
        let (headers, body) = successParts(token, exchanged: exchanged, headers: extra)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
    }

    /// The header fields (before `Content-Length`) and the body of ``success(_:exchanged:headers:)``.
    static func successParts(_ token: TokenService.IssuedToken, exchanged: Bool = false, headers extra: HTTPFields = [:]) -> (HTTPFields, ByteBuffer) {
        var body = JSONOutput(capacity: token.accessToken.utf8.count + 160)
        body.beginObject()
        body.member("access_token", token.accessToken)
        if exchanged { body.member("issued_token_type", accessTokenType) }
        // A DPoP-bound token is of type DPoP (RFC 9449 §5).
        body.member("token_type", token.claims.cnf?.jkt == nil ? "Bearer" : "DPoP")
        body.member("expires_in", Int64(token.expiresIn))
        body.member("scope", token.scope)
        body.endObject()
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store", .pragma: "no-cache"]
        headers.append(contentsOf: extra)
        return (headers, ByteBuffer(bytes: body.bytes))
    }

    /// The answer to a plain client-credentials request, a secret by Basic or in
    /// the form and nothing else (no proof, no assertion, no certificate), issued
    /// from memory by ``TokenService/issueFromMemory(clientID:secret:from:scope:audiences:)``
    /// and counted as ``handle(_:context:)`` counts a token. `nil` for any other
    /// request or outcome, with nothing recorded: ``handle(_:context:)`` then
    /// answers the same request as it would have (docs/ARCHITECTURE.md, "The token
    /// fast path").
    func issueFromMemory(headers: HTTPFields, body: ByteBuffer, peer: String) -> (HTTPFields, ByteBuffer)? {
        guard headers.value(of: .contentType)?.hasMediaType("application/x-www-form-urlencoded") == true, !headers.contains(.dpop),
            let form = try? FormBody(Array(body.readableBytesView), repeatable: Self.repeatable), form["grant_type"] == "client_credentials",
            form["client_id"] == nil || !ClientCredentials.presentsOnlyAClientID(headers, form: form)
        else { return nil }
        // Spelled out: `try?` would make "no assertion" and "a malformed one" both `nil`.
        let credentials: ClientCredentials
        do {
            guard try ClientCredentials.assertion(from: headers, form: form) == nil, let presented = try ClientCredentials.extract(from: headers, form: form)
            else { return nil }
            credentials = presented
        } catch {
            return nil
        }
        guard
            let token = tessera.tokens.issueFromMemory(
                clientID: credentials.clientID, secret: credentials.secret, from: peer, scope: form["scope"],
                audiences: form.all("resource") + form.all("audience"))
        else { return nil }
        issued.increment()
        return Self.successParts(token)
    }

    func handle(_ request: Request, context: TesseraRequestContext) async -> Response {
        // With nonces on, every answer to a DPoP request names the nonce to use next (RFC 9449 §8).
        var nonceHeader: HTTPFields = [:]
        if let nonces = tessera.dpop.nonces, request.headers.contains(.dpop) {
            nonceHeader[.dpopNonce] = nonces.current(now: TimeClaims.seconds(tessera.dependencies.now()))
        }
        do {
            let requestID = context.logger[metadataKey: "request_id"].map { "\($0)" }
            let (token, exchanged) = try await issue(request, context: context, requestID: requestID)
            issued.increment()
            return Self.success(token, exchanged: exchanged, headers: nonceHeader)
        } catch let error as OAuthError {
            failures.increment()
            return error.response(headers: nonceHeader)
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

    private func issue(_ request: Request, context: TesseraRequestContext, requestID: String?) async throws -> (TokenService.IssuedToken, exchanged: Bool) {
        let peer = context.peer
        let form = try await FormBody.read(request, upTo: Self.maximumBodySize, repeatable: Self.repeatable)
        guard let grantType = form["grant_type"] else { throw OAuthError.invalidRequest("grant_type is missing") }
        let audiences = form.all("resource") + form.all("audience")
        // The proof is checked before the client authenticates, so that a client sent
        // off for a nonce has spent no single-use credential (an assertion's or an outside
        // token's jti); its own jti is spent once the client is known, so that only
        // clients write to the store's record of used proofs.
        let proofs = request.headers[values: .dpop]
        let proof = proofs.isEmpty ? nil : try tessera.dpop.check(proofs, method: "POST", url: tessera.issuer + "/oauth2/token")
        let client: TokenService.AuthenticatedClient
        switch grantType {
        case "client_credentials":
            if let clientID = form["client_id"], ClientCredentials.presentsOnlyAClientID(request.headers, form: form) {
                // tls_client_auth and self_signed_tls_client_auth (RFC 8705 §2).
                guard let certificate = await certificates.certificate(of: request, context: context) else {
                    authenticationFailures.increment()
                    throw OAuthError.invalidClient("client authentication is required: a secret, an assertion or a client certificate")
                }
                do {
                    client = try await tessera.tokens.authenticate(certificate: certificate, clientID: clientID, from: peer)
                } catch let error as OAuthError where error.code == "invalid_client" {
                    authenticationFailures.increment()
                    throw error
                }
            } else {
                client = try await ClientCredentials.authenticate(
                    request, form: form, peer: peer, with: tessera.tokens, federation: tessera.federation, requestID: requestID)
            }
        case Self.tokenExchange:
            client = try await exchange(request, form: form, peer: peer, requestID: requestID)
        default:
            throw OAuthError.unsupportedGrantType("the grant types are client_credentials and \(Self.tokenExchange)")
        }
        if let proof { try await tessera.dpop.spend(proof) }
        // The certificate is read only when a token may be bound to it: reading one
        // costs a parse and a chain check, which no anonymous request should buy.
        var certificate = client.certificate
        if certificate == nil, client.record.account.binding.certificateRequired {
            certificate = await certificates.certificate(of: request, context: context)
        }
        let confirmation = try tessera.tokens.confirmation(for: client, dpop: proof, certificate: certificate)
        return (
            try tessera.tokens.issue(for: client, scope: form["scope"], audiences: audiences, confirmation: confirmation), grantType != "client_credentials"
        )
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
