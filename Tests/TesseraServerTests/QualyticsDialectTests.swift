import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraServer

@Suite struct QualyticsDialectTests {
    static func post(_ client: some TestClientProtocol, _ path: String, token: String?, body: String) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    @Test func createsAServiceUserThenTokensForIt() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let response = try await Self.post(
                client, "/api/users", token: token, body: #"{"name":"API Access","role":"Editor","teams":["Data Engineering","Data Quality"]}"#
            )
            #expect(response.status == .ok)
            let user = try response.jsonObject()
            #expect(Set(user.keys) == ["id", "user_id", "user_name", "email", "name", "user_type", "role", "teams"])
            let id = try #require(user["id"] as? Int)
            #expect(user["user_id"] as? String == "api_access@service")
            #expect(user["user_name"] as? String == "api_access@service")
            #expect(user["email"] as? String == "api_access@service")
            #expect(user["name"] as? String == "API Access")
            #expect(user["user_type"] as? String == "Service")
            #expect(user["role"] as? String == "Editor")
            #expect(user["teams"] as? [String] == ["Public", "Data Engineering", "Data Quality"])

            // A token for it by integer id, 90 days; it obtains access tokens with the role's scopes.
            let created = try await Self.post(
                client, "/api/user-tokens", token: token, body: "{\"name\":\"pipeline-production\",\"user_id\":\(id),\"expires_in_days\":90}")
            #expect(created.status == .ok)
            let body = try created.jsonObject()
            #expect(body["name"] as? String == "pipeline-production")
            #expect(body["active"] as? Bool == true)
            #expect(body["scim_endpoints_only"] as? Bool == false)
            #expect(body["last_used"] is NSNull)
            let expirationText = try #require(body["expiration"] as? String)
            let expiration = try #require(ISO8601.date(expirationText))
            #expect(abs(expiration.timeIntervalSinceNow - 90 * 86_400) < 60)
            #expect((body["user"] as? [String: Any])?["user_id"] as? String == "api_access@service")
            // The token is used as it is given: a Bearer credential, with the role's scopes.
            let clientID = try #require(body["client_id"] as? String), bearer = try #require(body["bearer_token"] as? String)
            #expect(bearer.hasPrefix(SecretFormat.APIToken.prefix))
            let whoami = try await client.call(.get, "/v1/whoami", token: bearer)
            #expect(whoami.status == .ok)
            #expect(try whoami.jsonObject()["scopes"] as? [String] == ["api:read", "api:write"])
            #expect(try whoami.jsonObject()["roles"] as? [String] == ["editor"])
            // It is no client secret.
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, bearer)).status == .unauthorized)

            // The same name again for that user: 409; by its string id, never expiring: fine.
            let again = try await Self.post(client, "/api/user-tokens", token: token, body: "{\"name\":\"pipeline-production\",\"user_id\":\(id)}")
            #expect(again.status == .conflict)
            #expect(try again.jsonObject()["detail"] is String)
            let never = try await Self.post(
                client, "/api/user-tokens", token: token, body: #"{"name":"forever","user_id":"api_access@service","expires_in_days":null}"#)
            #expect(never.status == .ok)
            #expect(try never.jsonObject()["expiration"] is NSNull)

            // The native API shows the same account with its teams as groups.
            let native = try await client.call(.get, "/v1/tenants/acme/service-accounts?name_prefix=api_access", token: token)
            let account = try #require(try native.items().first)
            #expect(account["client_id"] as? String == clientID)
            #expect(account["groups"] as? [String] == ["Public", "Data Engineering", "Data Quality"])
        }
    }

    @Test func scimOnlyTokensCarryOnlyTheScimScope() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let user = try await Self.post(client, "/api/users", token: token, body: #"{"name":"Okta Provisioning","role":"Admin"}"#)
            let id = try #require(try user.jsonObject()["id"] as? Int)
            let created = try await Self.post(
                client, "/api/user-tokens", token: token, body: "{\"name\":\"scim\",\"user_id\":\(id),\"expires_in_days\":365,\"scim_endpoints_only\":true}"
            )
            #expect(try created.jsonObject()["scim_endpoints_only"] as? Bool == true)
            let bearer = try #require(try created.jsonObject()["bearer_token"] as? String)
            let whoami = try await client.call(.get, "/v1/whoami", token: bearer)
            #expect(try whoami.jsonObject()["scopes"] as? [String] == ["scim"])
            // An Admin's SCIM-only token administers nothing.
            let refused = try await client.call(.get, "/v1/tenants/acme/service-accounts", token: bearer)
            #expect(refused.status == .forbidden)
        }
    }

    @Test func onlyAdministratorsAndValidInput() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let member = try await harness.credentials(role: "member")
        _ = try await harness.credentials(tenant: "globex")
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            // FastAPI's shapes: a list of {loc, msg, type} for a 422, a string otherwise.
            func expectDetail(_ response: TestResponse, _ status: HTTPResponse.Status, _ detail: String, at member: String? = nil) throws {
                #expect(response.status == status, "\(detail)")
                let expected =
                    status == .unprocessableContent
                    ? #"{"detail":[{"loc":["body","\#(member ?? "")"],"msg":"\#(detail)","type":"value_error"}]}"#
                    : #"{"detail":"\#(detail)"}"#
                #expect(try response.canonicalJSON() == canonicalJSON(expected))
            }
            let users = "/api/users", tokens = "/api/user-tokens"
            try expectDetail(
                try await Self.post(client, users, token: nil, body: #"{"name":"x","role":"Member"}"#), .unauthorized, "an access token is required")
            try expectDetail(
                try await Self.post(client, users, token: try await client.accessToken(member), body: #"{"name":"x","role":"Member"}"#), .forbidden,
                "only administrators may manage service users"
            )
            try expectDetail(
                try await Self.post(client, users, token: token, body: #"{"name":"x","role":"Owner"}"#), .unprocessableContent,
                "role must be one of Admin, Manager, Editor, Member", at: "role"
            )
            try expectDetail(
                try await Self.post(client, users, token: token, body: #"{"role":"Member"}"#), .unprocessableContent, "name is required", at: "name")
            try expectDetail(
                try await Self.post(client, users, token: token, body: #"{"name":"!!!","role":"Member"}"#), .unprocessableContent,
                "name must contain a letter or digit", at: "name"
            )
            try expectDetail(
                try await Self.post(client, users, token: token, body: #"{"name":"x","role":"Member","teams":"a"}"#), .unprocessableContent,
                "teams must be an array of strings", at: "teams"
            )
            #expect(try await Self.post(client, users, token: token, body: #"{"name":"Sync Bot","role":"Member"}"#).status == .ok)
            // "sync-bot" folds to the same service-user id: a conflict.
            try expectDetail(
                try await Self.post(client, users, token: token, body: #"{"name":"sync-bot","role":"Member"}"#), .conflict,
                "a service user sync_bot@service already exists"
            )
            try expectDetail(
                try await Self.post(client, tokens, token: token, body: #"{"name":"t","user_id":"sync_bot@service","expires_in_days":45}"#),
                .unprocessableContent, "expires_in_days must be 30, 60, 90, 365 or null (never)", at: "expires_in_days"
            )
            try expectDetail(
                try await Self.post(client, tokens, token: token, body: #"{"name":"t"}"#), .unprocessableContent, "user_id is required", at: "user_id")
            try expectDetail(try await Self.post(client, tokens, token: token, body: #"{"name":"t","user_id":999999}"#), .notFound, "service user not found")
            // Another tenant's service user is not found either.
            let globex = try await client.accessToken(try await harness.credentials(tenant: "globex"))
            let theirs = try await Self.post(client, users, token: globex, body: #"{"name":"Theirs","role":"Member"}"#)
            let theirID = try #require(try theirs.jsonObject()["id"] as? Int)
            try expectDetail(
                try await Self.post(client, tokens, token: token, body: "{\"name\":\"t\",\"user_id\":\(theirID)}"), .notFound, "service user not found")
        }
    }
}
