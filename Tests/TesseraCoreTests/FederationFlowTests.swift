import Foundation
import TesseraCore
import TesseraJOSE
import Testing

/// Each safety rule of docs/federation.md on its own, through the core's token
/// exchange and federated client assertion, with a token signed here by a key the
/// credential holds inline; and token exchange of Tessera's own tokens.
@Suite struct FederationFlowTests {
    static let outside = "https://cluster.example"

    struct Setup {
        let harness: CoreHarness
        let tenant: Tenant
        let account: CreatedServiceAccount
        let key: SigningKey

        var now: Int64 { TimeClaims.seconds(harness.clock.now) }

        func credential(
            _ name: String = "pods", subject: String? = "system:serviceaccount:shop:orders", claims: [String: String] = [:],
            scopes: [String]? = nil, allowWithoutJTI: Bool = false, account: CreatedServiceAccount? = nil
        ) async throws -> FederatedCredential {
            let jwks = String(decoding: try JSONEncoder().encode(JWKSet(keys: [key.publicJWK])), as: UTF8.self)
            return try await harness.tessera.federatedCredentials.add(
                for: (account ?? self.account).account.id, in: tenant,
                NewFederatedCredential(
                    name: name, issuer: FederationFlowTests.outside, subject: subject, claims: claims, scopes: scopes, jwks: jwks,
                    allowWithoutJTI: allowWithoutJTI),
                by: Caller(id: "test", isSuperAdmin: true))
        }

        /// A token shaped like a Kubernetes projected service-account token.
        func token(_ overrides: [String: String] = [:], drop: Set<String> = [], lifetime: Int64 = 600, signer: SigningKey? = nil) throws -> String {
            var members: [String: String] = [
                "iss": #""\#(FederationFlowTests.outside)""#, "sub": #""system:serviceaccount:shop:orders""#,
                "aud": #"["\#(CoreHarness.issuer)"]"#, "exp": "\(now + lifetime)", "iat": "\(now)", "nbf": "\(now)",
                "jti": #""\#(UUID().uuidString)""#,
                "kubernetes.io": #"{"namespace":"shop","serviceaccount":{"name":"orders","uid":"1"}}"#,
            ]
            for name in drop { members[name] = nil }
            members.merge(overrides) { $1 }
            let json = "{" + members.sorted { $0.key < $1.key }.map { #""\#($0.key)":\#($0.value)"# }.joined(separator: ",") + "}"
            return try JWS.sign(payload: Array(json.utf8), with: signer ?? key, type: "JWT")
        }

        func exchange(_ token: String, clientID: String? = nil) async throws -> TokenService.AuthenticatedClient {
            try await harness.tessera.federation.exchange(subjectToken: token, clientID: clientID, requestID: nil)
        }

        /// The audit detail of a refusal: `nil` when the token was accepted, empty when
        /// it was refused before any tenant's credential was concerned (logged only).
        func refusal(_ token: String, clientID: String? = nil) async -> String? {
            let filter = AuditFilter(action: "federation.exchange", outcome: .failure)
            let before = try? await harness.tessera.audit.list(in: tenant, filter: filter, before: nil, limit: 1).items.first?.id
            do {
                _ = try await exchange(token, clientID: clientID)
                return nil
            } catch let error as OAuthError {
                #expect(error.code == "invalid_grant")
                #expect(error.errorDescription == "the subject token was not accepted")
                let latest = try? await harness.tessera.audit.list(in: tenant, filter: filter, before: nil, limit: 1).items.first
                guard let latest, latest.id != before else { return "" }
                return latest.detail ?? ""
            } catch {
                Issue.record("unexpected \(error)")
                return nil
            }
        }
    }

    static func setup() async throws -> Setup {
        let harness = try await CoreHarness()
        let tenant = try await harness.tenant()
        let account = try await harness.account(in: tenant, NewServiceAccount(name: "orders", roles: ["analyst"]))
        return Setup(harness: harness, tenant: tenant, account: account, key: try SigningKey.generate(.es256))
    }

    @Test func aMatchingTokenIsExchangedAndItsJTISpent() async throws {
        let s = try await Self.setup()
        defer { s.harness.cleanup() }
        _ = try await s.credential()
        let token = try s.token()
        let client = try await s.exchange(token)
        #expect(client.record.account.id == s.account.account.id)
        let issued = try s.harness.tessera.tokens.issue(for: client, scope: nil, audiences: [])
        #expect(issued.claims.sub == s.account.account.id.lowercased)
        #expect(try await s.refusal(token)?.contains("was used before") == true)
        let events = try await s.harness.tessera.audit.list(in: s.tenant, filter: AuditFilter(outcome: .success), before: nil, limit: 5)
        #expect(events.items.contains { $0.action == "federation.exchange" && $0.actor == s.account.account.id.lowercased })

        // A disabled account matches nothing, at the token endpoint and in the dry run.
        var patch = ServiceAccountPatch()
        patch.status = .disabled
        _ = try await s.harness.tessera.accounts.update(s.account.account.id, in: s.tenant, patch, by: Caller(id: "test", isSuperAdmin: true))
        let fresh = try s.token()
        #expect(try await s.refusal(fresh)?.contains("disabled or expired") == true)
        let dryRun = try await s.harness.tessera.federation.test(fresh, clientID: nil, in: s.tenant)
        #expect(dryRun.matched == nil)
        #expect(dryRun.candidates.map(\.reasons) == [["the service account is disabled or expired"]])
    }

    @Test func eachSafetyRuleRefusesOnItsOwn() async throws {
        let s = try await Self.setup()
        defer { s.harness.cleanup() }
        _ = try await s.credential()
        let cases: [(String, String, String)] = [
            // No credential of any tenant trusts this issuer: the server log alone says so.
            ("wrong issuer", try s.token(["iss": #""https://other.example""#]), ""),
            ("wrong audience", try s.token(["aud": #""https://api.example""#]), "does not contain"),
            ("expired", try s.token(["exp": "\(s.now - 60)"]), "expired"),
            ("no exp", try s.token(drop: ["exp"]), "no exp"),
            ("exp past 24 h", try s.token(lifetime: 86_400 + 120), "more than 86400 s ahead"),
            ("iat in the future", try s.token(["iat": "\(s.now + 120)"]), "issued in the future"),
            ("nbf in the future", try s.token(["nbf": "\(s.now + 120)"]), "not valid yet"),
            ("no jti, long", try s.token(drop: ["jti"], lifetime: 600), "has no jti"),
            // Anyone can write a token naming an issuer: one its issuer did not sign goes
            // to the server log alone, not to the tenant's audit log.
            ("another key", try s.token(signer: try SigningKey.generate(.es256)), ""),
            ("sub", try s.token(["sub": #""system:serviceaccount:shop:billing""#]), "does not match"),
            ("default account", try s.token(["sub": #""system:serviceaccount:shop:default""#]), "default service account"),
        ]
        for (name, token, reason) in cases {
            let detail = await s.refusal(token)
            #expect(reason.isEmpty ? detail == "" : detail?.contains(reason) == true, "\(name): \(detail ?? "accepted")")
        }
        // A short-lived token without jti passes (SPIFFE's JWT-SVIDs).
        _ = try await s.exchange(try s.token(drop: ["jti"], lifetime: 300))
    }

    @Test func noneAndHMACAreRefusedWhateverTheKey() async throws {
        let s = try await Self.setup()
        defer { s.harness.cleanup() }
        _ = try await s.credential()
        let valid = try s.token()
        let parts = valid.split(separator: ".")
        for alg in ["none", "HS256"] {
            let header = Base64URL.encode(Array(#"{"alg":"\#(alg)","kid":"\#(s.key.keyID)"}"#.utf8))
            let forged = "\(header).\(parts[1])." + (alg == "none" ? "" : String(parts[2]))
            let detail = await s.refusal(forged)
            if alg == "none" {
                // An empty signature is not even a compact JWS: refused before its claims are read.
                #expect(detail == "")
            } else {
                #expect(detail == "", "\(detail ?? "accepted")")
            }
        }
    }

    @Test func aDefaultServiceAccountPassesOnlyWhenNamedExactly() async throws {
        let s = try await Self.setup()
        defer { s.harness.cleanup() }
        _ = try await s.credential("wide", subject: "system:serviceaccount:shop:*")
        let token = {
            try s.token(["sub": #""system:serviceaccount:shop:default""#, "kubernetes.io": #"{"namespace":"shop","serviceaccount":{"name":"default"}}"#])
        }
        #expect(try await s.refusal(token())?.contains("default service account") == true)
        _ = try await s.credential("exact", subject: "system:serviceaccount:shop:default")
        _ = try await s.exchange(try token())
    }

    @Test func aTokenMatchingTwoAccountsIsRefusedUnlessClientIDChooses() async throws {
        let s = try await Self.setup()
        defer { s.harness.cleanup() }
        let twin = try await s.harness.account(in: s.tenant, NewServiceAccount(name: "twin", roles: ["analyst"]))
        _ = try await s.credential()
        _ = try await s.credential(claims: ["kubernetes.io.namespace": "shop"], account: twin)
        #expect(try await s.refusal(try s.token())?.contains("2 accounts") == true)
        let chosen = try await s.exchange(try s.token(), clientID: twin.account.clientID)
        #expect(chosen.record.account.id == twin.account.id)
        let assertion = try await s.harness.tessera.federation.authenticate(
            assertion: try s.token(), clientID: s.account.account.clientID, requestID: nil)
        #expect(assertion.record.account.id == s.account.account.id)
    }

    @Test func aCredentialsScopesBoundTheToken() async throws {
        let s = try await Self.setup()
        defer { s.harness.cleanup() }
        let writer = try await s.harness.account(in: s.tenant, NewServiceAccount(name: "writer", roles: ["manager"]))
        _ = try await s.credential(scopes: ["api:read"], account: writer)
        let client = try await s.exchange(try s.token())
        #expect(client.record.allowedScopes == ["api:read", "api:write"])
        let issued = try s.harness.tessera.tokens.issue(for: client, scope: nil, audiences: [])
        #expect(issued.claims.scope == "api:read")
        let refused = #expect(throws: OAuthError.self) {
            try s.harness.tessera.tokens.issue(for: client, scope: "api:write", audiences: [])
        }
        #expect(refused?.code == "invalid_scope")
    }

    @Test func anExchangedOwnTokenNeverCarriesMoreThanItsSubject() async throws {
        let s = try await Self.setup()
        defer { s.harness.cleanup() }
        let tessera = s.harness.tessera
        let owner = try await s.harness.account(in: s.tenant, NewServiceAccount(name: "owner", roles: ["owner"]))
        let full = try await tessera.tokens.authenticate(clientID: owner.account.clientID, secret: owner.issuedSecret)
        let allScopes = full.record.allowedScopes.sorted()
        #expect(allScopes.count >= 3)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<25 {
            let subjectScopes = allScopes.filter { _ in Bool.random(using: &generator) }
            guard !subjectScopes.isEmpty else { continue }
            let subject = try tessera.tokens.issue(for: full, scope: subjectScopes.joined(separator: " "), audiences: [])
            let exchanged = try await tessera.federation.exchange(ownToken: subject.accessToken, actorToken: nil)
            let narrower = try tessera.tokens.issue(for: exchanged, scope: nil, audiences: [])
            #expect(narrower.claims.scopes.isSubset(of: Set(subjectScopes)))
            #expect(narrower.claims.exp <= subject.claims.exp)
            #expect(narrower.claims.act.isEmpty)
            let asked = allScopes.filter { _ in Bool.random(using: &generator) }
            guard !asked.isEmpty else { continue }
            do {
                let result = try tessera.tokens.issue(for: exchanged, scope: asked.joined(separator: " "), audiences: [])
                #expect(Set(asked).isSubset(of: Set(subjectScopes)))
                #expect(result.claims.scopes == Set(asked))
            } catch let error as OAuthError {
                #expect(error.code == "invalid_scope")
                #expect(!Set(asked).isSubset(of: Set(subjectScopes)))
            }
        }
        let actor = try tessera.tokens.issue(for: full, scope: nil, audiences: [])
        let subject = try tessera.tokens.issue(for: full, scope: allScopes[0], audiences: [])
        let delegated = try await tessera.federation.exchange(ownToken: subject.accessToken, actorToken: actor.accessToken)
        let token = try tessera.tokens.issue(for: delegated, scope: nil, audiences: [])
        #expect(token.claims.act == [AccessTokenClaims.Actor(sub: owner.account.id.lowercased, clientID: owner.account.clientID)])
        let parsed = try AccessTokenClaims(json: Array(try #require(Base64URL.decode(String(token.accessToken.split(separator: ".")[1])))))
        #expect(parsed.act == token.claims.act)
    }

    @Test func credentialsOfTwoTenantsForOneIssuerNeedClientID() async throws {
        let s = try await Self.setup()
        defer { s.harness.cleanup() }
        _ = try await s.credential()
        let other = try await s.harness.tenant("umbrella")
        let intruder = try await s.harness.account(in: other, NewServiceAccount(name: "intruder", roles: ["analyst"]))
        let jwks = String(decoding: try JSONEncoder().encode(JWKSet(keys: [s.key.publicJWK])), as: UTF8.self)
        _ = try await s.harness.tessera.federatedCredentials.add(
            for: intruder.account.id, in: other,
            NewFederatedCredential(name: "wide", issuer: Self.outside, subject: "system:serviceaccount:*", jwks: jwks),
            by: Caller(id: "test", isSuperAdmin: true))
        // Without client_id nothing is chosen across tenants, not even the one whose rule fits better.
        #expect(try await s.refusal(try s.token()) == "")
        #expect(try await s.exchange(try s.token(), clientID: s.account.account.clientID).record.account.id == s.account.account.id)
        let dryRun = try await s.harness.tessera.federation.test(try s.token(), clientID: nil, in: s.tenant)
        #expect(dryRun.matched == nil)
        #expect(dryRun.candidates.flatMap(\.reasons).contains { $0.contains("needs client_id") })
        #expect(try await s.harness.tessera.federation.test(try s.token(), clientID: s.account.account.clientID, in: s.tenant).matched != nil)
    }

    @Test func credentialsRefuseTesseraItselfPrivateKeysAndPrivateAddresses() async throws {
        let s = try await Self.setup()
        defer { s.harness.cleanup() }
        let service = s.harness.tessera.federatedCredentials
        func field(_ input: NewFederatedCredential) async -> String? {
            do {
                _ = try await service.add(for: s.account.account.id, in: s.tenant, input, by: Caller(id: "test", isSuperAdmin: true))
                return nil
            } catch let error as DomainError {
                if case .invalidInput(let field) = error.kind { return field }
                return "other"
            } catch {
                return "other"
            }
        }
        #expect(await field(NewFederatedCredential(name: "self", issuer: CoreHarness.issuer, subject: "x")) == "issuer")
        #expect(await field(NewFederatedCredential(name: "meta", issuer: "https://169.254.169.254", subject: "x")) == "issuer")
        #expect(await field(NewFederatedCredential(name: "keys", issuer: Self.outside, subject: "x", jwksURI: "https://10.0.0.5/keys")) == "jwks_uri")
        var privateJWK = try #require(try JSONValue.parse(Array(try JSONEncoder().encode(s.key.publicJWK))).object)
        privateJWK["d"] = .string("AAAA")
        var output = JSONOutput()
        output.value(.object(["keys": .array([.object(privateJWK)])]))
        let leaked = String(decoding: output.bytes, as: UTF8.self)
        #expect(await field(NewFederatedCredential(name: "leak", issuer: Self.outside, subject: "x", jwks: leaked)) == "jwks")
        #expect(try await service.list(of: s.account.account.id, in: s.tenant).isEmpty)
    }

    @Test func anOwnTokenMeantForAResourceServerCannotBeExchangedAndActIsKept() async throws {
        let s = try await Self.setup()
        defer { s.harness.cleanup() }
        let tessera = s.harness.tessera
        let owner = try await s.harness.account(in: s.tenant, NewServiceAccount(name: "gateway", roles: ["owner"], audiences: ["https://orders.example"]))
        let client = try await tessera.tokens.authenticate(clientID: owner.account.clientID, secret: owner.issuedSecret)
        let forOrders = try tessera.tokens.issue(for: client, scope: nil, audiences: ["https://orders.example"])
        let refused = await #expect(throws: OAuthError.self) { try await tessera.federation.exchange(ownToken: forOrders.accessToken, actorToken: nil) }
        #expect(refused?.code == "invalid_grant")
        let own = try tessera.tokens.issue(for: client, scope: nil, audiences: [])
        let delegated = try tessera.tokens.issue(
            for: try await tessera.federation.exchange(ownToken: own.accessToken, actorToken: own.accessToken), scope: nil, audiences: [])
        // Exchanged again without an actor, the chain stays.
        let again = try tessera.tokens.issue(
            for: try await tessera.federation.exchange(ownToken: delegated.accessToken, actorToken: nil), scope: nil, audiences: [])
        #expect(again.claims.act == delegated.claims.act)
        #expect(again.claims.act.count == 1)
        // An actor token meant for a resource server does not act either.
        await #expect(throws: OAuthError.self) { try await tessera.federation.exchange(ownToken: own.accessToken, actorToken: forOrders.accessToken) }
    }

    @Test func aDelegationChainStopsAtEightActors() async throws {
        let s = try await Self.setup()
        defer { s.harness.cleanup() }
        let tessera = s.harness.tessera
        let owner = try await s.harness.account(in: s.tenant, NewServiceAccount(name: "chain", roles: ["owner"]))
        let client = try await tessera.tokens.authenticate(clientID: owner.account.clientID, secret: owner.issuedSecret)
        let actor = try tessera.tokens.issue(for: client, scope: nil, audiences: []).accessToken
        var token = try tessera.tokens.issue(for: client, scope: nil, audiences: [])
        for depth in 1...AccessTokenClaims.maximumActorDepth {
            token = try tessera.tokens.issue(
                for: try await tessera.federation.exchange(ownToken: token.accessToken, actorToken: actor), scope: nil, audiences: [])
            #expect(token.claims.act.count == depth)
        }
        let refused = await #expect(throws: OAuthError.self) { try await tessera.federation.exchange(ownToken: token.accessToken, actorToken: actor) }
        #expect(refused?.code == "invalid_request")
        // The deepest token Tessera issued still reads back.
        #expect(try AccessTokenClaims(json: Array(try #require(Base64URL.decode(String(token.accessToken.split(separator: ".")[1]))))).act.count == 8)
    }
}
