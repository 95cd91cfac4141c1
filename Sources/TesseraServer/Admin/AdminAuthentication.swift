import Hummingbird
import TesseraCore

/// Bearer authentication for the admin API (RFC 6750 §2.1, §3).
struct AdminAuthentication: Sendable {
    let tessera: Tessera

    static let challenge = #"Bearer realm="tessera""#

    /// The principal behind the request's access token.
    func principal(_ request: Request) async throws(Problem) -> Principal {
        guard let header = request.headers[.authorization] else {
            throw Problem(.unauthorized, "an access token is required", headers: [.wwwAuthenticate: Self.challenge])
        }
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw Problem(.unauthorized, "the Authorization header must use the Bearer scheme", headers: [.wwwAuthenticate: Self.challenge])
        }
        return try await principal(accessToken: String(header.dropFirst(7).trimmingOptionalWhitespace()))
    }

    /// The principal behind an access token of this issuer however it was sent
    /// (a Bearer header, or a session header or cookie some seed APIs use).
    func principal(accessToken token: String) async throws(Problem) -> Principal {
        if SecretFormat.APIToken.isWellFormed(token) { return try await principal(apiToken: token) }
        do {
            // Only tokens meant for this issuer's own API: a token minted for a resource
            // server must not be replayable here by that server.
            return try await tessera.validator.validate(token, audience: tessera.issuer)
        } catch is AccessTokenValidator.Rejection {
            throw Problem(
                .unauthorized, "the access token is invalid or expired",
                headers: [.wwwAuthenticate: Self.challenge + #", error="invalid_token", error_description="the access token is invalid or expired""#]
            )
        } catch {
            throw Problem(.serviceUnavailable, "the store is unavailable", headers: [.retryAfter: "1"])
        }
    }

    /// The principal behind an API token (`tsa_…`): the authority a token of its
    /// account would have now, narrowed to the API token's scopes; no token is signed.
    private func principal(apiToken token: String) async throws(Problem) -> Principal {
        do {
            let client = try await tessera.tokens.authenticate(apiToken: token)
            return try AccessTokenValidator.principal(of: try tessera.tokens.claims(for: client, scope: nil, audiences: [tessera.issuer]))
        } catch let error as OAuthError where error.code == "temporarily_unavailable" {
            throw Problem(.serviceUnavailable, "the store is unavailable", headers: [.retryAfter: "1"])
        } catch {
            throw Problem(
                .unauthorized, "the access token is invalid or expired",
                headers: [.wwwAuthenticate: Self.challenge + #", error="invalid_token", error_description="the access token is invalid or expired""#]
            )
        }
    }

    /// The principal behind a Bearer token or, for seed APIs whose clients send a
    /// service account's own credentials (Mixpanel), HTTP Basic `client_id:secret`.
    /// Basic credentials are checked as at the token endpoint (throttled per
    /// `peer`) and give the principal a token of theirs would have; no token is signed.
    func principal(_ request: Request, allowingBasicFrom peer: String) async throws(Problem) -> Principal {
        guard let header = request.headers[.authorization], header.count > 6, header.prefix(6).lowercased() == "basic " else {
            return try await principal(request)
        }
        let basicChallenge = #"Basic realm="tessera""#
        do {
            guard let credentials = try ClientCredentials.extract(from: request.headers, form: try FormBody([])) else {
                throw OAuthError.invalidClient()
            }
            let client = try await tessera.tokens.authenticate(clientID: credentials.clientID, secret: credentials.secret, from: peer)
            return try AccessTokenValidator.principal(of: try tessera.tokens.claims(for: client, scope: nil, audiences: []))
        } catch let throttled as TokenService.Throttled {
            throw Problem(.tooManyRequests, "too many failed attempts", headers: [.retryAfter: "\(throttled.retryAfter)"])
        } catch let error as OAuthError where error.code == "temporarily_unavailable" || error.code == "server_error" {
            throw Problem(.serviceUnavailable, "the store is unavailable", headers: [.retryAfter: "1"])
        } catch is OAuthError {
            throw Problem(.unauthorized, "the credentials are invalid", headers: [.wwwAuthenticate: basicChallenge])
        } catch {
            throw Problem(.serviceUnavailable, "the store is unavailable", headers: [.retryAfter: "1"])
        }
    }

    /// The tenant named by `reference` if `principal` may administer it.
    ///
    /// A tenant that does not exist and one the principal may not see answer the
    /// same 404, so tenants cannot be discovered. A principal of the tenant
    /// without `tessera:admin` gets 403 `insufficient_scope`.
    func tenant(_ reference: String, for principal: Principal) async throws(Problem) -> Tenant {
        try await tenant(.reference(reference), for: principal, refusals: TenantRefusals())
    }

    /// The tenant `locator` names if `principal` may administer it, refused in
    /// the words of `refusals` (the native API's, or a dialect's).
    func tenant(_ locator: TenantLocator, for principal: Principal, refusals: TenantRefusals) async throws(Problem) -> Tenant {
        let found: Tenant?
        do {
            found =
                switch locator {
                case .reference(let reference): try await tessera.tenants.find(reference)
                case .number(let number): try await tessera.tenants.find(number: number)
                case .callers: try await tessera.storage.tenant(id: principal.tenantID)
                }
        } catch {
            // An unreachable store is 503 with Retry-After; anything else a 500.
            throw Problem(error)
        }
        guard let tenant = found, principal.isSuperAdmin || principal.tenantID == tenant.id else {
            throw Problem(.notFound, refusals.notFound)
        }
        guard principal.mayAdminister(tenantID: tenant.id) else {
            throw Problem(
                .forbidden, refusals.forbidden,
                headers: [.wwwAuthenticate: Self.challenge + #", error="insufficient_scope", scope="\#(TesseraScope.admin)""#]
            )
        }
        return tenant
    }
}
