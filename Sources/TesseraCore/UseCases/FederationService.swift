import Foundation
import Logging
import TesseraJOSE

/// Tokens of outside issuers exchanged for Tessera's: the federated client
/// assertion (`client_credentials` with another issuer's token as
/// `client_assertion`), token exchange (RFC 8693) of such a token or of one of
/// Tessera's own, and the dry run that explains which credential matches
/// (docs/federation.md). The caller learns only `invalid_client` or
/// `invalid_grant`; the precise reason goes to the audit log and the server log.
public struct FederationService: Sendable {
    /// How far ahead an outside token's `exp` may lie.
    public static let maximumLifetime: Int64 = 86_400
    /// The whole lifetime under which a token without `jti` is accepted.
    public static let lifetimeWithoutJTI: Int64 = 600
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    public static let leeway: Int64 = 30

    /// Which flow a token came through; it names the audit action and the error.
    public enum Flow: String, Sendable {
        case assertion = "federation.assertion"
        case exchange = "federation.exchange"

        func refusal() -> OAuthError {
            switch self {
            case .assertion: OAuthError.invalidClient("the client assertion was not accepted")
            case .exchange: OAuthError.invalidGrant("the subject token was not accepted")
            }
        }
    }

    /// How one credential fares against a token.
    public struct Verdict: Sendable {
        public let credential: FederatedCredential
        /// The account's client id, when the account exists.
        public let clientID: String?
        /// Why it does not match, in words; empty when it does.
        public let reasons: [String]
        public var matches: Bool { reasons.isEmpty }
    }

    /// The dry run's answer: the account that would be used, if exactly one, and every candidate's verdict.
    public struct DryRun: Sendable {
        public let token: ExternalToken
        public let matched: Verdict?
        public let candidates: [Verdict]
    }

    let issuer: String
    let storage: any FederatedCredentialStorage & ServiceAccountStorage & ClientKeyStorage
    let clients: ClientDirectory
    let keys: FederatedKeys
    let validator: AccessTokenValidator
    let audit: AuditLog
    let dependencies: Dependencies
    let logger = Logger(label: "tessera.federation")

    public init(
        issuer: String, storage: any FederatedCredentialStorage & ServiceAccountStorage & ClientKeyStorage, clients: ClientDirectory,
        keys: FederatedKeys, validator: AccessTokenValidator, audit: AuditLog, dependencies: Dependencies
    ) {
        self.issuer = issuer
        self.storage = storage
        self.clients = clients
        self.keys = keys
        self.validator = validator
        self.audit = audit
        self.dependencies = dependencies
    }

    // MARK: The flows

    /// Authenticates `clientID` with another issuer's token as its client assertion:
    /// one of the account's federated credentials must match it. `invalid_client` otherwise.
    public func authenticate(assertion text: String, clientID: String, requestID: String?) async throws -> TokenService.AuthenticatedClient {
        try await accept(text, flow: .assertion, clientID: clientID, requestID: requestID)
    }

    /// Token exchange of another issuer's token: the account follows from the
    /// credentials that match it (among `clientID`'s alone, when given). `invalid_grant` otherwise.
    public func exchange(subjectToken text: String, clientID: String?, requestID: String?) async throws -> TokenService.AuthenticatedClient {
        try await accept(text, flow: .exchange, clientID: clientID, requestID: requestID)
    }

    /// Token exchange of one of Tessera's own access tokens for a narrower one: at most
    /// the subject token's scopes (those the account's roles still grant), expiring no
    /// later than it, keeping its `act` chain, and with the actor in front of that chain
    /// when `actorToken` is given. Both tokens must be meant for Tessera itself (`aud`
    /// holds the issuer): a token minted for a resource server is that server's to
    /// verify, never to trade for a token of another audience.
    public func exchange(ownToken text: String, actorToken: String?, requestID: String? = nil) async throws -> TokenService.AuthenticatedClient {
        let now = dependencies.now()
        let principal = try await ownPrincipal(text, role: "subject")
        guard let record = try await clientRecord(principal.clientID, now: now), record.account.id == principal.accountID else {
            throw OAuthError.invalidGrant("the subject token was not accepted")
        }
        var actors = principal.claims.act
        if let actorToken {
            let actor = try await ownPrincipal(actorToken, role: "actor")
            guard actor.tenantID == principal.tenantID else { throw OAuthError.invalidGrant("the actor token was not accepted") }
            actors = [AccessTokenClaims.Actor(sub: actor.claims.sub, clientID: actor.clientID)] + principal.claims.act
            guard actors.count <= AccessTokenClaims.maximumActorDepth else {
                throw OAuthError.invalidRequest("the delegation chain would be deeper than \(AccessTokenClaims.maximumActorDepth) actors")
            }
        }
        let actedBy = actors.first.map { " acting: \($0.sub)" } ?? ""
        try? await audit.record(
            AuditEvent(
                tenantID: record.tenant.id, actor: record.account.id.lowercased, action: "token.exchange", resourceType: "service_account",
                resourceID: record.account.id.lowercased, outcome: .success, status: 200, requestID: requestID, at: now,
                detail: "an access token of this account was accepted for exchange\(actedBy)"
            ))
        return TokenService.AuthenticatedClient(
            record: record, secret: nil, scopeLimit: principal.scopes, expiresNoLaterThan: principal.claims.exp, actors: actors
        )
    }

    /// The principal behind one of Tessera's own tokens meant for Tessera itself;
    /// `invalid_grant` without saying why (the server log says it).
    private func ownPrincipal(_ token: String, role: String) async throws -> Principal {
        do {
            return try await validator.validate(token, audience: issuer)
        } catch let rejection as AccessTokenValidator.Rejection {
            logger.notice("\(role) token refused", metadata: ["reason": "\(rejection.description)"])
            throw OAuthError.invalidGrant("the \(role) token was not accepted")
        }
    }

    /// The dry run: which of the tenant's credentials (those of `clientID`'s account
    /// alone, when given) match `text`, and why the others do not. Nothing is issued
    /// and the token's `jti` is not spent.
    public func test(_ text: String, clientID: String?, in tenant: Tenant) async throws -> DryRun {
        let token: ExternalToken
        do {
            token = try ExternalToken(text)
        } catch {
            throw DomainError.invalid("token", "the token cannot be read: \(error.description)")
        }
        let trusting: [FederatedCredential]
        do {
            trusting = try await storeCall { try await self.candidates(for: token, clientID: clientID) }
        } catch is TooManyCandidates {
            throw DomainError.invalid("client_id", "more than \(Self.maximumCandidates) credentials trust this issuer: give client_id")
        }
        let candidates = trusting.filter { $0.tenantID == tenant.id }
        var verdicts = await verdicts(candidates, token: token, naming: true)
        // As the token endpoint would: without client_id, no choice across tenants
        // (only that it happens is said, never which tenant).
        if clientID == nil, crossTenant(trusting, token: token) != nil {
            let reason = "other tenants also trust this issuer for this audience: the token endpoint needs client_id to choose"
            verdicts = verdicts.map { $0.matches ? Verdict(credential: $0.credential, clientID: $0.clientID, reasons: [reason]) : $0 }
        }
        let accounts = Set(verdicts.filter { $0.matches }.map { $0.credential.accountID })
        var reported = verdicts
        if accounts.count > 1 {
            reported = verdicts.map {
                $0.matches
                    ? Verdict(credential: $0.credential, clientID: $0.clientID, reasons: ["credentials of \(accounts.count) accounts match; none is used"]) : $0
            }
        }
        let matched = accounts.count == 1 ? verdicts.first { $0.matches } : nil
        return DryRun(token: token, matched: matched, candidates: reported)
    }

    // MARK: Checking a token

    private func accept(_ text: String, flow: Flow, clientID: String?, requestID: String?) async throws -> TokenService.AuthenticatedClient {
        let now = dependencies.now()
        let token: ExternalToken
        do {
            token = try ExternalToken(text)
        } catch {
            await refuse(flow, reason: error.description, token: nil, tenantID: nil, requestID: requestID)
            throw flow.refusal()
        }
        let candidates: [FederatedCredential]
        do {
            candidates = try await self.candidates(for: token, clientID: clientID)
        } catch is TooManyCandidates {
            let reason = "more than \(Self.maximumCandidates) credentials trust \(token.issuer): the request must name the account with client_id"
            await refuse(flow, reason: reason, token: token, tenantID: nil, requestID: requestID)
            throw flow.refusal()
        } catch {
            throw OAuthError.temporarilyUnavailable("the client store is unavailable")
        }
        let tenants = Set(candidates.map(\.tenantID))
        let tenantID = tenants.count == 1 ? tenants.first : nil
        if clientID == nil, let reason = crossTenant(candidates, token: token) {
            await refuse(flow, reason: reason, token: token, tenantID: nil, requestID: requestID)
            throw flow.refusal()
        }
        guard !candidates.isEmpty else {
            let whose = clientID.map { " of client \($0)" } ?? ""
            await refuse(flow, reason: "no federated credential\(whose) trusts issuer \(token.issuer)", token: token, tenantID: tenantID, requestID: requestID)
            throw flow.refusal()
        }
        let verdicts = await verdicts(candidates, token: token)
        let matching = verdicts.filter { $0.matches }
        let accounts = Set(matching.map { $0.credential.accountID })
        guard accounts.count == 1, let first = matching.first, let matchedClientID = first.clientID else {
            let reason =
                accounts.count > 1
                ? "the token matches credentials of \(accounts.count) accounts; none is used"
                : verdicts.map { "\($0.credential.name): \($0.reasons.joined(separator: "; "))" }.joined(separator: " | ")
            // Only a token its issuer really signed reaches a tenant's audit log: anyone can
            // write a token naming an issuer, so unsigned refusals go to the server log alone.
            var genuine = !matching.isEmpty
            if !genuine, tenantID != nil { genuine = await isSigned(token, byAnyOf: candidates) }
            await refuse(flow, reason: reason, token: token, tenantID: genuine ? tenantID : nil, requestID: requestID)
            throw flow.refusal()
        }
        let record: ClientRecord?
        do {
            record = try await clientRecord(matchedClientID, now: now)
        } catch {
            throw OAuthError.temporarilyUnavailable("the client store is unavailable")
        }
        guard let record else {
            await refuse(flow, reason: "the account can no longer authenticate", token: token, tenantID: first.credential.tenantID, requestID: requestID)
            throw flow.refusal()
        }
        if let jti = token.jti, let exp = token.exp {
            let fresh: Bool
            do {
                fresh = try await storage.useAssertionID(
                    jti, clientID: "federated " + token.issuer, expiresAt: Date(timeIntervalSince1970: TimeInterval(exp + Self.leeway)))
            } catch {
                throw OAuthError.temporarilyUnavailable("the client store is unavailable")
            }
            guard fresh else {
                await refuse(flow, reason: "jti \(jti) was used before", token: token, tenantID: first.credential.tenantID, requestID: requestID)
                throw flow.refusal()
            }
        }
        // The most a token may carry: the union of what the matching credentials allow.
        var limit: Set<String>? = []
        for verdict in matching {
            guard let scopes = verdict.credential.scopes else {
                limit = nil
                break
            }
            limit?.formUnion(scopes)
        }
        try? await audit.record(
            AuditEvent(
                tenantID: record.tenant.id, actor: record.account.id.lowercased, action: flow.rawValue, resourceType: "federated_credential",
                resourceID: first.credential.id.lowercased, outcome: .success, status: 200, requestID: requestID, at: now,
                detail: "credential \(first.credential.name) accepted a token of \(token.issuer) for \(token.subject ?? "no sub")"
            ))
        return TokenService.AuthenticatedClient(record: record, secret: nil, scopeLimit: limit)
    }

    /// Why a token named by no `client_id` cannot be resolved: credentials of more than
    /// one tenant trust its issuer for an audience it carries. Choosing by their rules
    /// would let one tenant's credential take another tenant's workloads (or refuse
    /// them as ambiguous); the request must name the account.
    private func crossTenant(_ candidates: [FederatedCredential], token: ExternalToken) -> String? {
        let aimed = Set(candidates.filter { token.audience.contains($0.audience ?? issuer) }.map(\.tenantID))
        guard aimed.count > 1 else { return nil }
        return "credentials of \(aimed.count) tenants trust \(token.issuer) for this audience: the request must name the account with client_id"
    }

    /// How many credentials trusting one issuer are weighed for a token no `client_id`
    /// names; past that, the request must name the account.
    public static let maximumCandidates = 500

    /// The credentials that may match: those trusting the token's issuer, of `clientID`'s account alone when given.
    private func candidates(for token: ExternalToken, clientID: String?) async throws -> [FederatedCredential] {
        guard let clientID else {
            let trusting = try await storage.federatedCredentials(issuer: token.issuer, limit: Self.maximumCandidates + 1)
            guard trusting.count <= Self.maximumCandidates else { throw TooManyCandidates() }
            return trusting
        }
        guard let (account, _) = try await storage.credentials(clientID: clientID) else { return [] }
        return try await storage.federatedCredentials(accountID: account.id).filter { $0.issuer == token.issuer }
    }

    struct TooManyCandidates: Error {}

    private func clientRecord(_ clientID: String, now: Date) async throws -> ClientRecord? {
        guard let record = try await clients.client(id: clientID, now: now), record.account.isUsable(at: now) else { return nil }
        return record
    }

    /// Each credential's verdict: its conditions first, then (for those whose
    /// conditions hold) the signature with the issuer's keys.
    /// Client ids are looked up for every candidate when `naming` (the dry run shows
    /// them), else only for those that match: a popular issuer may be trusted by many.
    private func verdicts(_ candidates: [FederatedCredential], token: ExternalToken, naming: Bool = false) async -> [Verdict] {
        var accounts: [UUID: ServiceAccount?] = [:]
        var verdicts: [Verdict] = []
        let now = dependencies.now()
        for credential in candidates {
            var reasons = mismatches(credential, token: token)
            if reasons.isEmpty, let problem = await signatureProblem(credential, token: token) { reasons.append(problem) }
            if accounts[credential.accountID] == nil, naming || reasons.isEmpty {
                accounts[credential.accountID] = .some(try? await storage.serviceAccount(id: credential.accountID, tenantID: credential.tenantID))
            }
            let account = accounts[credential.accountID] ?? nil
            if reasons.isEmpty, account?.isUsable(at: now) != true {
                reasons.append(account == nil ? "the service account no longer exists" : "the service account is disabled or expired")
            }
            verdicts.append(Verdict(credential: credential, clientID: account?.clientID, reasons: reasons))
        }
        return verdicts
    }

    /// What of the token breaks the credential's rules (docs/federation.md, safety rules), in words.
    func mismatches(_ credential: FederatedCredential, token: ExternalToken) -> [String] {
        var reasons: [String] = []
        if token.issuer != credential.issuer { reasons.append("iss \"\(token.issuer)\" is not \"\(credential.issuer)\"") }
        let audience = credential.audience ?? issuer
        if !token.audience.contains(audience) {
            reasons.append("aud \(token.audience.map { "\"\($0)\"" }.joined(separator: ", ")) does not contain \"\(audience)\"")
        }
        for (claim, pattern) in credential.conditions {
            guard let value = token.claims.claimText(claim) else {
                reasons.append("the token has no \(claim) claim (required: \"\(pattern)\")")
                continue
            }
            if !Pattern.matches(value, pattern) { reasons.append("\(claim) \"\(value)\" does not match \"\(pattern)\"") }
        }
        // A token bound to a key (RFC 7800) stands only with a proof of that key, which
        // no exchange carries: taking it would make a bearer token of a bound one.
        if token.claims["cnf"] != nil { reasons.append("the token carries cnf: it is bound to a key, and no proof of that key comes with it") }
        if let named = token.kubernetesDefaultServiceAccount, !credential.namesDefaultServiceAccount {
            reasons.append("\(named) is a namespace's default service account, which a credential must name exactly")
        }
        let now = TimeClaims.seconds(dependencies.now())
        if let exp = token.exp {
            if let violation = TimeClaims(exp: exp, nbf: token.nbf, iat: token.iat)
                .violation(now: now, leeway: Self.leeway, maximumLifetime: Self.maximumLifetime)
            {
                reasons.append(violation.description)
            }
            if token.jti == nil, !credential.allowWithoutJTI {
                if let iat = token.iat {
                    if exp - iat >= Self.lifetimeWithoutJTI {
                        reasons.append("the token has no jti and lives \(exp - iat) s, not under \(Self.lifetimeWithoutJTI) s")
                    }
                } else {
                    reasons.append("the token has neither jti nor iat")
                }
            }
        } else {
            reasons.append("the token has no exp")
        }
        return reasons
    }

    /// Whether the keys of any of the candidates' key sources verify the token.
    private func isSigned(_ token: ExternalToken, byAnyOf candidates: [FederatedCredential]) async -> Bool {
        var sources = Set<String>()
        for credential in candidates where sources.insert(credential.jwks ?? credential.jwksURI ?? credential.issuer).inserted {
            if await signatureProblem(credential, token: token) == nil { return true }
        }
        return false
    }

    /// Why the token's signature does not verify with the issuer's keys, or `nil` when it does.
    private func signatureProblem(_ credential: FederatedCredential, token: ExternalToken) async -> String? {
        let header = token.jws.header
        guard let algorithm = JWSAlgorithm(rawValue: header.alg) else { return "alg \"\(header.alg)\" is not accepted" }
        let issuerKeys: [VerificationKey]
        do {
            issuerKeys = try await keys.keys(for: credential, kid: header.kid)
        } catch {
            return error.description
        }
        let key: VerificationKey?
        if let kid = header.kid {
            key = issuerKeys.first { $0.keyID == kid }
        } else {
            key = issuerKeys.count == 1 ? issuerKeys[0] : nil
        }
        guard let key else { return header.kid.map { "the issuer has no key with kid \"\($0)\"" } ?? "the token names no kid and the issuer has several keys" }
        guard key.algorithm == algorithm else { return "alg \(header.alg) is not the key's \(key.algorithm.rawValue)" }
        do {
            try token.jws.verify(with: key)
        } catch {
            return "the signature does not verify"
        }
        return nil
    }

    private func refuse(_ flow: Flow, reason: String, token: ExternalToken?, tenantID: UUID?, requestID: String?) async {
        let subject = token?.subject.map { String($0.prefix(200)) } ?? "unknown"
        logger.notice(
            "federated token refused",
            metadata: [
                "flow": "\(flow.rawValue)", "iss": "\(token?.issuer.prefix(200) ?? "")", "sub": "\(subject)", "reason": "\(reason.prefix(2000))",
                "request_id": "\(requestID ?? "")",
            ])
        // Only a tenant's administrators read its audit log: a refusal no tenant's
        // credential was meant for goes to the server log alone.
        guard let tenantID else { return }
        try? await audit.record(
            AuditEvent(
                tenantID: tenantID, actor: subject, action: flow.rawValue, resourceType: "federated_credential", resourceID: nil,
                outcome: .failure, status: flow == .assertion ? 401 : 400, requestID: requestID, at: dependencies.now(),
                detail: String(reason.prefix(2000))
            ))
    }
}
