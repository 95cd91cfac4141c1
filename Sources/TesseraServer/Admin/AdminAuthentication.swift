import HTTPTypes
import Hummingbird
import TesseraCore
import TesseraJOSE

/// Bearer and DPoP authentication for the admin API (RFC 6750 §2.1 and §3,
/// RFC 9449 §7, docs/binding.md).
struct AdminAuthentication: Sendable {
    let tessera: Tessera
    /// Where client certificates come from, for certificate-bound tokens.
    var certificates = ClientCertificates.none

    static let challenge = #"Bearer realm="tessera""#
    static let dpopChallenge = #"DPoP algs="\#(DPoPProof.algorithms.map(\.rawValue).joined(separator: " "))""#

    /// The principal behind the request's access token: `Bearer`, or `DPoP` with a
    /// proof for this request; a bound token must come with what it is bound to.
    func principal(_ request: Request, context: TesseraRequestContext) async throws(Problem) -> Principal {
        guard let header = request.headers[.authorization] else {
            throw Problem(.unauthorized, "an access token is required", headers: Self.challenges(error: nil))
        }
        let isDPoP = header.count > 5 && header.prefix(5).lowercased() == "dpop "
        guard isDPoP || (header.count > 7 && header.prefix(7).lowercased() == "bearer ") else {
            throw Problem(.unauthorized, "the Authorization header must use the Bearer or DPoP scheme", headers: Self.challenges(error: nil))
        }
        let token = String(header.dropFirst(isDPoP ? 5 : 7).trimmingOptionalWhitespace())
        var presented = Confirmation()
        var proof: DPoPProof?
        if isDPoP {
            do {
                // Checked now, spent only once the token has passed: an unauthenticated
                // caller writes nothing to the store.
                proof = try tessera.dpop.check(
                    request.headers[values: .dpop], method: request.method.rawValue, url: tessera.issuer + request.uri.path, accessToken: token)
                presented.jkt = proof?.thumbprint
            } catch let error as OAuthError {
                throw proofRefusal(error)
            } catch {
                throw Problem(.serviceUnavailable, "the store is unavailable", headers: [.retryAfter: "1"])
            }
        }
        if certificates.isEnabled { presented.x5tS256 = await certificates.certificate(of: request, context: context)?.thumbprint }
        let principal = try await principal(accessToken: token, presented: presented)
        if let proof {
            // The DPoP scheme is for DPoP-bound tokens only (RFC 9449 §7.1).
            guard principal.claims.cnf?.jkt != nil else {
                throw Problem(.unauthorized, "the access token is invalid or expired", headers: Self.challenges(error: "invalid_token"))
            }
            do {
                try await tessera.dpop.spend(proof)
            } catch let error as OAuthError where error.code == "invalid_dpop_proof" {
                throw proofRefusal(error)
            } catch {
                throw Problem(.serviceUnavailable, "the store is unavailable", headers: [.retryAfter: "1"])
            }
        }
        return principal
    }

    /// 401 with a DPoP challenge naming what is wrong with the proof; the description
    /// is Tessera's own words with any quote or backslash taken out, so nothing a
    /// client sent can end the quoted string (RFC 9110 §5.6.4).
    private func proofRefusal(_ error: OAuthError) -> Problem {
        let description = String(
            error.errorDescription.unicodeScalars.filter { $0 != "\"" && $0 != "\\" && $0.value >= 0x20 && $0.value < 0x7F }.map(Character.init))
        var headers: HTTPFields = [.wwwAuthenticate: Self.dpopChallenge + #", error="\#(error.code)", error_description="\#(description)""#]
        if let nonces = tessera.dpop.nonces { headers[.dpopNonce] = nonces.current(now: TimeClaims.seconds(tessera.dependencies.now())) }
        return Problem(.unauthorized, error.errorDescription, headers: headers)
    }

    /// `WWW-Authenticate` for both schemes (RFC 9449 §7.1), with `error` when given.
    static func challenges(error: String?) -> HTTPFields {
        let suffix = error.map { #", error="\#($0)", error_description="the access token is invalid or expired""# } ?? ""
        var headers: HTTPFields = [.wwwAuthenticate: challenge + suffix]
        headers.append(HTTPField(name: .wwwAuthenticate, value: dpopChallenge + suffix))
        return headers
    }

    /// The principal behind an access token of this issuer however it was sent
    /// (a Bearer header, or a session header or cookie some seed APIs use).
    /// `presented` is what the request proved it holds; a token bound to anything
    /// else is refused (docs/binding.md).
    func principal(accessToken token: String, presented: Confirmation = Confirmation()) async throws(Problem) -> Principal {
        if SecretFormat.APIToken.isWellFormed(token) { return try await principal(apiToken: token) }
        do {
            // Only tokens meant for this issuer's own API: a token minted for a resource
            // server must not be replayable here by that server.
            return try await tessera.validator.validate(token, audience: tessera.issuer, presented: presented)
        } catch is AccessTokenValidator.Rejection {
            throw Problem(.unauthorized, "the access token is invalid or expired", headers: Self.challenges(error: "invalid_token"))
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
    func principal(_ request: Request, context: TesseraRequestContext, allowingBasicFrom peer: String) async throws(Problem) -> Principal {
        guard let header = request.headers[.authorization], header.count > 6, header.prefix(6).lowercased() == "basic " else {
            return try await principal(request, context: context)
        }
        let basicChallenge = #"Basic realm="tessera""#
        do {
            guard let credentials = try ClientCredentials.extract(from: request.headers, form: try FormBody([])) else {
                throw OAuthError.invalidClient()
            }
            let client = try await tessera.tokens.authenticate(clientID: credentials.clientID, secret: credentials.secret, from: peer)
            // Basic credentials act as a bearer token would: an account whose tokens
            // must be bound (docs/binding.md) cannot use them here.
            let binding = client.record.account.binding
            guard !binding.dpopRequired, !binding.certificateRequired else {
                throw Problem(
                    .unauthorized, "this account's tokens must be DPoP-bound or certificate-bound: use such a token, not Basic credentials",
                    headers: [.wwwAuthenticate: basicChallenge])
            }
            return try AccessTokenValidator.principal(of: try tessera.tokens.claims(for: client, scope: nil, audiences: []))
        } catch let problem as Problem {
            throw problem
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
    ///
    /// With `cached`, the tenant may come from the tenant cache
    /// (``TenantService/findCached(_:)``): only for requests that change nothing.
    func tenant(_ reference: String, for principal: Principal, cached: Bool = false) async throws(Problem) -> Tenant {
        try await tenant(cached ? .cached(reference) : .reference(reference), for: principal, refusals: TenantRefusals())
    }

    /// The tenant `locator` names if `principal` may administer it, refused in
    /// the words of `refusals` (the native API's, or a dialect's).
    func tenant(_ locator: TenantLocator, for principal: Principal, refusals: TenantRefusals) async throws(Problem) -> Tenant {
        let found: Tenant?
        do {
            found =
                switch locator {
                case .reference(let reference): try await tessera.tenants.find(reference)
                case .cached(let reference):
                    principal.isSuperAdmin
                        ? try await tessera.tenants.findCached(reference)
                        : try await tessera.tenants.findCached(reference, within: principal.tenantID)
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
