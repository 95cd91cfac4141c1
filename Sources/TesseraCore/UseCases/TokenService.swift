import Foundation
import TesseraJOSE

/// The client-credentials grant (RFC 6749 §4.4): authenticates a client and mints
/// an RFC 9068 access token whose scopes come from the account's roles.
public struct TokenService: Sendable {
    /// A token as the token endpoint returns it (RFC 6749 §5.1).
    public struct IssuedToken: Sendable, Hashable {
        public let accessToken: String
        public let expiresIn: Int
        /// The granted scopes, space-delimited.
        public let scope: String
        public let claims: AccessTokenClaims
    }

    /// The default access-token lifetime in seconds (docs/ARCHITECTURE.md §3).
    public static let defaultLifetime = 3600

    public let issuer: String
    let clients: ClientDirectory
    private let keyRing: KeyRing
    private let usage: UsageRecorder
    let dependencies: Dependencies
    /// Counts failed authentications; `nil` counts nothing.
    public let throttle: AuthenticationThrottle?
    private let replay: any ClientKeyStorage
    /// Limits tokens per account; `nil` does not limit.
    public let rateLimiter: TokenRateLimiter?

    public init(
        issuer: String, clients: ClientDirectory, keyRing: KeyRing, usage: UsageRecorder, replay: any ClientKeyStorage,
        dependencies: Dependencies, throttle: AuthenticationThrottle? = nil, rateLimiter: TokenRateLimiter? = nil,
        maximumAssertionLifetime: Int64 = ClientAssertion.defaultMaximumLifetime
    ) {
        self.maximumAssertionLifetime = maximumAssertionLifetime
        self.rateLimiter = rateLimiter
        self.throttle = throttle
        self.replay = replay
        self.issuer = issuer
        self.clients = clients
        self.keyRing = keyRing
        self.usage = usage
        self.dependencies = dependencies
    }

    /// The authenticated client and the secret it used (`nil` for `private_key_jwt`
    /// and federated tokens), with what else bounds the token it may obtain.
    public struct AuthenticatedClient: Sendable {
        public let record: ClientRecord
        public let secret: ClientSecret?
        /// The most the token may carry beyond the secret's restriction (a federated
        /// credential's scopes, an exchanged token's); `nil` for no further limit.
        public let scopeLimit: Set<String>?
        /// The latest `exp` the token may have (that of an exchanged token).
        public let expiresNoLaterThan: Int64?
        /// The `act` chain (token exchange with an actor token).
        public let actors: [AccessTokenClaims.Actor]
        /// The certificate the client authenticated with (`tls_client_auth`,
        /// `self_signed_tls_client_auth`); its tokens are bound to it.
        public let certificate: PresentedCertificate?

        public init(
            record: ClientRecord, secret: ClientSecret?, scopeLimit: Set<String>? = nil, expiresNoLaterThan: Int64? = nil,
            actors: [AccessTokenClaims.Actor] = [], certificate: PresentedCertificate? = nil
        ) {
            self.certificate = certificate
            self.record = record
            self.secret = secret
            self.scopeLimit = scopeLimit
            self.expiresNoLaterThan = expiresNoLaterThan
            self.actors = actors
        }
    }

    /// `client_assertion_type` of `private_key_jwt` (RFC 7523 §2.2).
    public static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// How far ahead a client assertion's `exp` may lie, in seconds.
    public let maximumAssertionLifetime: Int64

    /// Refused because the account obtained too many tokens too fast.
    public struct RateLimited: Error, Sendable {
        /// Whole seconds to wait, at least 1.
        public let retryAfter: Int
    }

    /// Attempts refused because of too many failures.
    public struct Throttled: Error, Sendable {
        /// Whole seconds to wait, at least 1.
        public let retryAfter: Int
    }

    /// Checks a client id and secret. Every failure is the same `invalid_client`,
    /// so a caller cannot learn whether the id exists. With a throttle, failures
    /// are counted per source address and refused with ``Throttled`` once locked.
    public func authenticate(clientID: String, secret: String, from address: String? = nil) async throws -> AuthenticatedClient {
        try await throttled(clientID: clientID, address: address) { try await check(clientID: clientID, secret: secret) }
    }

    /// Checks a `private_key_jwt` client assertion (RFC 7523 §3): what
    /// ``ClientAssertion`` checks (`iss` = `sub` = the client id, `aud`, the time
    /// claims, `exp` at most ``maximumAssertionLifetime`` ahead), then a registered,
    /// unexpired key with that key's algorithm, and a `jti` never used before.
    /// Every failure is `invalid_client`.
    public func authenticate(assertion: String, clientID: String?, from address: String? = nil) async throws -> AuthenticatedClient {
        let parsed = try ClientAssertion(assertion)
        return try await throttled(clientID: parsed.clientID, address: address) {
            try await check(parsed, clientID: clientID)
        }
    }

    /// Checks another issuer's token presented as `clientID`'s client assertion through
    /// `federation` (docs/federation.md), with failures counted as for any client.
    public func authenticate(
        federatedAssertion assertion: String, clientID: String, from address: String? = nil, with federation: FederationService,
        requestID: String? = nil
    ) async throws -> AuthenticatedClient {
        try await used(
            throttled(clientID: clientID, address: address) {
                try await federation.authenticate(assertion: assertion, clientID: clientID, requestID: requestID)
            })
    }

    /// Token exchange of another issuer's token through `federation`, with failures
    /// counted per address as failed authentications are.
    public func exchange(
        subjectToken: String, clientID: String?, from address: String? = nil, with federation: FederationService, requestID: String? = nil
    ) async throws -> AuthenticatedClient {
        try await used(
            throttled(clientID: clientID ?? "token-exchange", address: address) {
                try await federation.exchange(subjectToken: subjectToken, clientID: clientID, requestID: requestID)
            })
    }

    /// Token exchange of one of Tessera's own tokens through `federation`, with failures
    /// counted per address as failed authentications are.
    public func exchange(
        ownToken: String, actorToken: String?, from address: String? = nil, with federation: FederationService, requestID: String? = nil
    ) async throws -> AuthenticatedClient {
        try await throttled(clientID: "token-exchange", address: address) {
            try await federation.exchange(ownToken: ownToken, actorToken: actorToken, requestID: requestID)
        }
    }

    /// Notes that a client without a secret authenticated now (its `last_used_at`).
    func used(_ client: AuthenticatedClient) -> AuthenticatedClient {
        usage.record(accountID: client.record.account.id, secretID: nil, at: dependencies.now())
        return client
    }

    func throttled(clientID: String, address: String?, _ body: () async throws -> AuthenticatedClient) async throws -> AuthenticatedClient {
        guard let throttle, let address else { return try await body() }
        let now = dependencies.now()
        if let wait = throttle.retryAfter(clientID: clientID, address: address, now: now) {
            throw Throttled(retryAfter: max(1, Int(wait.rounded(.up))))
        }
        do {
            let client = try await body()
            throttle.recordSuccess(clientID: clientID, address: address)
            return client
        } catch let error as OAuthError where error.code == "invalid_client" || error.code == "invalid_grant" {
            throttle.recordFailure(clientID: clientID, address: address, now: now)
            throw error
        }
    }

    private func check(_ assertion: ClientAssertion, clientID: String?) async throws -> AuthenticatedClient {
        let nowDate = dependencies.now()
        try assertion.check(
            clientID: clientID, issuer: issuer, now: TimeClaims.seconds(nowDate), maximumLifetime: maximumAssertionLifetime
        )
        let record: ClientRecord?
        do {
            record = try await clients.client(id: assertion.clientID, now: nowDate)
        } catch {
            throw OAuthError.temporarilyUnavailable("the client store is unavailable")
        }
        guard let record, record.account.isUsable(at: nowDate) else { throw OAuthError.invalidClient() }
        let usable = record.keys.filter { $0.isUsable(at: nowDate) }
        let jws = assertion.jws
        let key: ClientKey? = if let kid = jws.header.kid { usable.first { $0.kid == kid } } else { usable.count == 1 ? usable[0] : nil }
        guard let key, let verificationKey = try? VerificationKey(jwk: key.jwk) else {
            throw OAuthError.invalidClient("no registered key matches the client assertion")
        }
        do {
            try jws.verify(with: verificationKey)
        } catch {
            throw OAuthError.invalidClient("the client assertion's signature does not verify")
        }
        let fresh: Bool
        do {
            fresh = try await replay.useAssertionID(assertion.jti, clientID: assertion.clientID, expiresAt: assertion.replayWindowEnd)
        } catch {
            throw OAuthError.temporarilyUnavailable("the client store is unavailable")
        }
        guard fresh else { throw OAuthError.invalidClient("the client assertion was used before") }
        usage.record(accountID: record.account.id, secretID: nil, at: nowDate)
        return AuthenticatedClient(record: record, secret: nil)
    }

    private func check(clientID: String, secret: String) async throws -> AuthenticatedClient {
        let now = dependencies.now()
        // Hash even when the id is unknown, so timing does not tell.
        let digest = SecretFormat.digest(secret)
        guard SecretFormat.isWellFormed(secret), clientID.utf8.count <= 256 else { throw OAuthError.invalidClient() }
        // A secret's id stands for the client too (Ctrl Hub hands out a key's id as
        // the id to authenticate with); then only that secret matches.
        let secretID = clientID.utf8.count == 36 ? UUID(uuidString: clientID) : nil
        let record: ClientRecord?
        do {
            record = if let secretID { try await clients.client(holdingSecret: secretID, now: now) } else { try await clients.client(id: clientID, now: now) }
        } catch {
            throw OAuthError.temporarilyUnavailable("the client store is unavailable")
        }
        guard let record, let secret = Self.usableSecret(of: record, digest: digest, secretID: secretID, now: now) else {
            throw OAuthError.invalidClient()
        }
        usage.record(accountID: record.account.id, secretID: secret.id, at: now)
        return AuthenticatedClient(record: record, secret: secret)
    }

    /// The client secret of `record` whose digest is `digest` (and whose id is
    /// `secretID`, when given), if it and the account can authenticate now. Every
    /// candidate is compared in constant time.
    private static func usableSecret(of record: ClientRecord, digest: [UInt8], secretID: UUID?, now: Date) -> ClientSecret? {
        var matched: ClientSecret?
        for candidate in record.secrets
        where candidate.kind == .clientSecret && ConstantTime.equals(candidate.digest, digest) && (secretID == nil || candidate.id == secretID) {
            matched = candidate
        }
        guard let secret = matched, secret.isUsable(at: now), record.account.isUsable(at: now) else { return nil }
        return secret
    }

    /// A token for a client id and secret, issued from what is in memory without
    /// waiting: the client's cached record, the loaded signing key. It is `nil`
    /// whenever the answer would be anything but this token: the client not
    /// cached (or cached as unknown), an id that names a secret, a wrong or
    /// unusable secret, a locked address, a binding the request cannot give, a
    /// scope or audience refused, no signing key, the rate limit reached. Then
    /// nothing was recorded, and ``authenticate(clientID:secret:from:)`` followed
    /// by ``issue(for:scope:audiences:confirmation:)`` answers the same request as
    /// it would have. On success it records what those two record.
    public func issueFromMemory(clientID: String, secret: String, from address: String?, scope: String?, audiences: [String]) -> IssuedToken? {
        let now = dependencies.now()
        // A locked address is refused before any work, as ``throttled(clientID:address:_:)`` refuses it.
        if let throttle, let address, throttle.retryAfter(clientID: clientID, address: address, now: now) != nil { return nil }
        // The digest before any lookup, as there: the time taken then does not depend on whether the id exists.
        let digest = SecretFormat.digest(secret)
        guard SecretFormat.isWellFormed(secret), clientID.utf8.count <= 256, clientID.utf8.count != 36 else { return nil }
        guard let cached = clients.cachedClient(id: clientID, now: now), let record = cached,
            let secret = Self.usableSecret(of: record, digest: digest, secretID: nil, now: now)
        else { return nil }
        let client = AuthenticatedClient(record: record, secret: secret)
        // Spelled out: `try?` would make "no binding" and "a binding refused" both `nil`.
        do {
            guard try confirmation(for: client, dpop: nil, certificate: nil) == nil else { return nil }
        } catch {
            return nil
        }
        // Signed before the rate limit is asked, which takes from the account's allowance:
        // once taken, the token is issued.
        guard let claims = try? claims(for: client, scope: scope, audiences: audiences), let signingKey = keyRing.snapshot?.active,
            let signed = try? claims.sign(with: signingKey),
            rateLimiter?.take(record.account.id, now: dependencies.now()) == nil
        else { return nil }
        let token = IssuedToken(accessToken: signed, expiresIn: Int(claims.exp - claims.iat), scope: claims.scope, claims: claims)
        clients.countHit()
        usage.record(accountID: record.account.id, secretID: secret.id, at: now)
        if let throttle, let address { throttle.recordSuccess(clientID: clientID, address: address) }
        return token
    }

    /// Checks an API token (`tsa_…`, ``SecretFormat/APIToken``) presented as a bearer
    /// credential: well formed, held by an account, enabled and unexpired, of an
    /// account that can authenticate now. The result carries the token as its
    /// secret, so ``claims(for:scope:audiences:)`` applies its scope restriction
    /// and the account's roles as they are now. Every failure is `invalid_token`'s
    /// ``OAuthError/invalidClient(_:)``; an unreachable store is `temporarily_unavailable`.
    /// Not throttled: a token carries 256 random bits, so guessing is hopeless.
    public func authenticate(apiToken token: String) async throws -> AuthenticatedClient {
        let now = dependencies.now()
        guard SecretFormat.APIToken.isWellFormed(token) else { throw OAuthError.invalidClient() }
        let digest = SecretFormat.digest(token)
        let record: ClientRecord?
        do {
            record = try await clients.client(holdingAPIToken: digest, now: now)
        } catch {
            throw OAuthError.temporarilyUnavailable("the client store is unavailable")
        }
        guard let record else { throw OAuthError.invalidClient() }
        var matched: ClientSecret?
        for candidate in record.secrets where candidate.kind == .apiToken && ConstantTime.equals(candidate.digest, digest) {
            matched = candidate
        }
        guard let token = matched, token.isUsable(at: now), record.account.isUsable(at: now) else { throw OAuthError.invalidClient() }
        usage.record(accountID: record.account.id, secretID: token.id, at: now)
        return AuthenticatedClient(record: record, secret: token)
    }

    /// What introspection answers for an active API token.
    public struct APITokenStatus: Sendable {
        /// The authority the token carries now, as an access token's claims would
        /// state it (`iat` is when the token was made; `exp` is its expiry, or `nil`).
        public let claims: AccessTokenClaims
        public let token: ClientSecret
    }

    /// The status of an API token for an introspecting `caller` (RFC 7662): `nil`
    /// (inactive) when it is unknown, disabled, expired, of an account that cannot
    /// authenticate, or of another tenant than the caller's (unless the caller is
    /// a super admin).
    public func introspect(apiToken token: String, for caller: ClientRecord) async throws -> APITokenStatus? {
        let client: AuthenticatedClient
        do {
            client = try await authenticate(apiToken: token)
        } catch let error as OAuthError where error.code == "invalid_client" {
            return nil
        }
        guard let secret = client.secret,
            client.record.tenant.id == caller.tenant.id || caller.allowedScopes.contains(TesseraScope.superAdmin)
        else { return nil }
        var claims = try claims(for: client, scope: nil, audiences: [issuer])
        claims.iat = TimeClaims.seconds(secret.createdAt)
        claims.nbf = claims.iat
        claims.exp = secret.expiresAt.map(TimeClaims.seconds) ?? 0
        return APITokenStatus(claims: claims, token: secret)
    }

    /// Mints a token for an authenticated client.
    ///
    /// - Parameters:
    ///   - scope: the raw `scope` parameter; `nil` grants every allowed scope.
    ///   - audiences: the `audience`/`resource` values (RFC 8707); empty uses the tenant default.
    public func issue(for client: AuthenticatedClient, scope: String?, audiences: [String], confirmation: Confirmation? = nil) throws -> IssuedToken {
        var claims = try claims(for: client, scope: scope, audiences: audiences)
        claims.cnf = confirmation
        return try signed(claims, account: client.record.account.id)
    }

    /// Signs `claims` with the active key, within `account`'s rate limit.
    private func signed(_ claims: AccessTokenClaims, account: UUID) throws -> IssuedToken {
        guard let signingKey = keyRing.snapshot?.active else {
            throw OAuthError.temporarilyUnavailable("no signing key is loaded")
        }
        if let rateLimiter, let wait = rateLimiter.take(account, now: dependencies.now()) {
            throw RateLimited(retryAfter: max(1, Int(wait.rounded(.up))))
        }
        let token: String
        do {
            token = try claims.sign(with: signingKey)
        } catch {
            throw OAuthError.serverError("the token could not be signed")
        }
        return IssuedToken(accessToken: token, expiresIn: Int(claims.exp - claims.iat), scope: claims.scope, claims: claims)
    }

    /// The claims a token for `client` would carry (scope and audience checked as
    /// ``issue(for:scope:audiences:)`` checks them), unsigned: for a client that
    /// authenticated directly on an API and needs no token.
    public func claims(for client: AuthenticatedClient, scope: String?, audiences: [String]) throws -> AccessTokenClaims {
        let record = client.record
        var restriction = client.secret?.scopes.map { Set($0) }
        if let limit = client.scopeLimit { restriction = restriction.map { $0.intersection(limit) } ?? limit }
        var allowed = record.allowedScopes
        if let restriction { allowed.formIntersection(restriction) }

        let granted: [String]
        if let scope {
            let requested = try Self.parseScope(scope)
            let missing = requested.filter { !allowed.contains($0) }
            guard missing.isEmpty else {
                throw OAuthError.invalidScope("scope not allowed for this client: \(missing.joined(separator: " "))")
            }
            granted = requested
        } else {
            granted = restriction == nil ? record.sortedScopes : allowed.sorted()
        }

        let defaultAudience = record.tenant.defaultAudience ?? issuer
        var audience: [String] = []
        for requested in audiences where !audience.contains(requested) {
            // The issuer itself names Tessera's own API (the admin API accepts no other
            // audience), which every account may ask for whatever the tenant's default.
            guard requested == defaultAudience || requested == issuer || record.account.audiences.contains(requested) else {
                throw OAuthError.invalidTarget("audience not allowed for this client")
            }
            audience.append(requested)
        }
        if audience.isEmpty { audience = [defaultAudience] }

        let now = TimeClaims.seconds(dependencies.now())
        let lifetime = record.account.tokenLifetime ?? record.tenant.tokenLifetime ?? Self.defaultLifetime
        var exp = now + Int64(lifetime)
        if let latest = client.expiresNoLaterThan { exp = min(exp, latest) }
        guard exp > now else { throw OAuthError.invalidGrant("the subject token has expired") }
        return AccessTokenClaims(
            iss: issuer,
            sub: record.subject,
            aud: audience,
            exp: exp,
            iat: now,
            nbf: now,
            jti: Base64URL.encode(dependencies.randomBytes(16)),
            clientID: record.account.clientID,
            scope: granted.joined(separator: " "),
            tenant: record.tenantClaim,
            roles: record.account.roles,
            act: client.actors
        )
    }

    /// Parses a `scope` parameter (RFC 6749 §3.3): space-delimited scope tokens of
    /// `%x21 / %x23-5B / %x5D-7E`, duplicates folded, order kept.
    public static func parseScope(_ scope: String) throws -> [String] {
        var result: [String] = []
        for token in scope.split(separator: " ", omittingEmptySubsequences: true) {
            guard token.utf8.allSatisfy({ $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }) else {
                throw OAuthError.invalidScope("scope contains a character RFC 6749 §3.3 does not allow")
            }
            let value = String(token)
            if !result.contains(value) { result.append(value) }
        }
        guard !result.isEmpty else { throw OAuthError.invalidScope("scope is empty") }
        return result
    }
}
