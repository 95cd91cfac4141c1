import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import Testing

@testable import TesseraServer

/// API tokens as docs/admin-api.md ("API tokens") describes them: made and managed
/// under `…/service-accounts/{id}/api-tokens`, presented as they are (Bearer) to the
/// admin API, answered by introspection, and never a client secret.
@Suite struct APITokenTests {
    /// Makes an API token for `account` and returns the created JSON.
    private func make(
        _ client: any TestClientProtocol, for account: String, admin: String, body: String = #"{"name":"ci"}"#
    ) async throws -> [String: Any] {
        let response = try await client.call(.post, "/v1/tenants/acme/service-accounts/\(account)/api-tokens", token: admin, json: body)
        #expect(response.status == .created, "\(response.text)")
        return try response.jsonObject()
    }

    @Test func aTokenIsShownOnceAndWorksAsBearerOnTheAdminAPI() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let operator_ = try await harness.credentials(role: "admin")
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let created = try await make(client, for: operator_.serviceAccountID, admin: token)
            let value = try #require(created["token"] as? String)
            #expect(value.wholeMatch(of: try Regex(SecretFormat.APIToken.pattern)) != nil)
            #expect(created["client_secret"] == nil)
            #expect(created["name"] as? String == "ci")
            #expect(created["hint"] as? String == "tsa_…" + value.suffix(4))
            #expect(created["expires_at"] is NSNull)

            let list = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(operator_.serviceAccountID)/api-tokens", token: token)
            #expect(list.status == .ok)
            let items = try list.items()
            #expect(items.count == 1)
            #expect(items.first?["id"] as? String == created["id"] as? String)
            #expect(items.first?["token"] == nil)
            #expect(!list.text.contains(value))
            // Secrets and API tokens are listed apart.
            let secrets = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(operator_.serviceAccountID)/secrets", token: token)
            #expect(try secrets.items().map { $0["name"] as? String } == ["default"])

            // The token itself authenticates, with the authority of its account now.
            let whoami = try await client.call(.get, "/v1/whoami", token: value)
            #expect(whoami.status == .ok)
            #expect(try whoami.jsonObject()["client_id"] as? String == operator_.clientID)
            let accounts = try await client.call(.get, "/v1/tenants/acme/service-accounts", token: value)
            #expect(accounts.status == .ok)
        }
    }

    @Test func anAPITokenIsNoClientSecretAndASecretIsNoAPIToken() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let value = try #require(try await make(client, for: admin.serviceAccountID, admin: token)["token"] as? String)
            let exchanged = try await client.token("grant_type=client_credentials", basic: (admin.clientID, value))
            #expect(exchanged.status == .unauthorized)
            #expect(try exchanged.jsonObject()["error"] as? String == "invalid_client")
            let asBearer = try await client.call(.get, "/v1/whoami", token: admin.clientSecret)
            #expect(asBearer.status == .unauthorized)
            // A well-formed token nobody holds.
            let unknown = SecretFormat.APIToken.make(randomBytes: Array(repeating: 5, count: 32))
            let refused = try await client.call(.get, "/v1/whoami", token: unknown)
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)
        }
    }

    @Test func disablingOrDeletingATokenStopsItAtOnce() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let operator_ = try await harness.credentials(role: "admin")
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let base = "/v1/tenants/acme/service-accounts/\(operator_.serviceAccountID)/api-tokens"
            let created = try await make(client, for: operator_.serviceAccountID, admin: token)
            let value = try #require(created["token"] as? String), id = try #require(created["id"] as? String)
            #expect(try await client.call(.get, "/v1/whoami", token: value).status == .ok)

            let disabled = try await client.call(.patch, "\(base)/\(id)", token: token, json: #"{"enabled":false}"#)
            #expect(disabled.status == .ok)
            #expect(try disabled.jsonObject()["enabled"] as? Bool == false)
            #expect(try await client.call(.get, "/v1/whoami", token: value).status == .unauthorized)
            #expect(try await client.call(.patch, "\(base)/\(id)", token: token, json: #"{"enabled":true}"#).status == .ok)
            #expect(try await client.call(.get, "/v1/whoami", token: value).status == .ok)

            // The secrets route does not reach a token, nor the tokens route a secret.
            let secretsRoute = "/v1/tenants/acme/service-accounts/\(operator_.serviceAccountID)/secrets/\(id)"
            #expect(try await client.call(.delete, secretsRoute, token: token).status == .notFound)

            #expect(try await client.call(.delete, "\(base)/\(id)", token: token).status == .noContent)
            #expect(try await client.call(.get, "/v1/whoami", token: value).status == .unauthorized)
            #expect(try await client.call(.delete, "\(base)/\(id)", token: token).status == .notFound)

            let events = try await client.call(.get, "/v1/tenants/acme/audit-events?resource_id=\(id)", token: token)
            let actions = try events.items().compactMap { $0["action"] as? String }
            // Refusals are recorded too: the second delete and the attempt through the secrets route.
            #expect(actions == ["api_token.delete", "api_token.delete", "secret.delete", "api_token.update", "api_token.update", "api_token.create"])
            let outcomes = try events.items().compactMap { $0["outcome"] as? String }
            #expect(outcomes == ["failure", "success", "failure", "success", "success", "success"])
        }
    }

    @Test func aTokenCarriesItsAccountsAuthorityAsItIsNow() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let operator_ = try await harness.credentials(role: "admin")
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let scim = try #require(
                try await make(client, for: operator_.serviceAccountID, admin: token, body: #"{"name":"scim","scopes":["scim"]}"#)["token"] as? String
            )
            let full = try #require(try await make(client, for: operator_.serviceAccountID, admin: token)["token"] as? String)
            // A SCIM-only token administers nothing.
            #expect(try await client.call(.get, "/v1/tenants/acme/service-accounts", token: scim).status == .forbidden)
            #expect(try await client.call(.get, "/v1/tenants/acme/service-accounts", token: full).status == .ok)
            // Demoted, the account's token loses the admin scope at once.
            let demoted = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(operator_.serviceAccountID)", token: token, json: #"{"roles":["consumer"]}"#
            )
            #expect(demoted.status == .ok)
            #expect(try await client.call(.get, "/v1/tenants/acme/service-accounts", token: full).status == .forbidden)
            // Disabled, it authenticates no more.
            _ = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(operator_.serviceAccountID)", token: token, json: #"{"status":"disabled"}"#
            )
            #expect(try await client.call(.get, "/v1/whoami", token: full).status == .unauthorized)
        }
    }

    @Test func introspectionAnswersAPITokens() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let worker = try await harness.credentials(role: "editor")
        let stranger = try await harness.credentials(tenant: "globex")
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let created = try await make(client, for: worker.serviceAccountID, admin: token, body: #"{"name":"etl","expires_in_days":30}"#)
            let value = try #require(created["token"] as? String)
            let answer = try await client.form("/oauth2/introspect", "token=\(value)&token_type_hint=api_token", as: admin)
            #expect(answer.status == .ok)
            let body = try answer.jsonObject()
            #expect(body["active"] as? Bool == true)
            #expect(body["token_type"] as? String == "api_token")
            #expect(body["scope"] as? String == "api:read api:write")
            #expect(body["client_id"] as? String == worker.clientID)
            #expect(body["sub"] as? String == worker.serviceAccountID)
            #expect(body["tenant"] as? String == worker.tenantID)
            #expect(body["iss"] as? String == ServerHarness.issuer)
            #expect(body["name"] as? String == "etl")
            #expect(body["aud"] == nil)
            let iat = try #require(body["iat"] as? Int), exp = try #require(body["exp"] as? Int)
            #expect(exp - iat == 30 * 86_400)

            // Without the hint, or with the other one, the same answer; another tenant's admin sees nothing.
            let unhinted = try await client.form("/oauth2/introspect", "token=\(value)&token_type_hint=access_token", as: admin)
            #expect(try unhinted.jsonObject()["active"] as? Bool == true)
            let foreign = try await client.form("/oauth2/introspect", "token=\(value)", as: stranger)
            #expect(foreign.text == #"{"active":false}"#)

            let never = try #require(try await make(client, for: worker.serviceAccountID, admin: token, body: #"{"name":"forever"}"#)["token"] as? String)
            let forever = try await client.form("/oauth2/introspect", "token=\(never)", as: admin)
            #expect(try forever.jsonObject()["exp"] == nil)

            let id = try #require(created["id"] as? String)
            _ = try await client.call(.delete, "/v1/tenants/acme/service-accounts/\(worker.serviceAccountID)/api-tokens/\(id)", token: token)
            let revoked = try await client.form("/oauth2/introspect", "token=\(value)", as: admin)
            #expect(revoked.text == #"{"active":false}"#)
        }
    }
}
