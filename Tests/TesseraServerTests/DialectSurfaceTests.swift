import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

/// What each seed's own clients send and expect beyond the happy create: the
/// credentials its security schemes name, its paths as its reference writes them,
/// its error shapes, and what its data model allows.
@Suite struct DialectSurfaceTests {
    @Test func ctrlHubTakesTheAccessTokenAsSessionHeaderOrCookie() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let body = #"{"data":{"type":"service-accounts","attributes":{"name":"by-session"}}}"#
            let ways: [(String, @Sendable (inout HTTPFields) -> Void)] = [
                ("session header", { $0[.sessionToken] = token }),
                ("cookie among others", { $0[.cookie] = "theme=dark; ctrl_hub_session=\(token); other=1" }),
                ("quoted cookie", { $0[.cookie] = "ctrl_hub_session=\"\(token)\"" }),
            ]
            for (index, (way, send)) in ways.enumerated() {
                var fields: HTTPFields = [.contentType: CtrlHubRoutes.mediaType]
                send(&fields)
                let response = try await client.execute(
                    uri: "/v3/orgs/acme/iam/service-accounts", method: .post, headers: fields,
                    body: ByteBuffer(string: body.replacingOccurrences(of: "by-session", with: "by-session-\(index)"))
                )
                #expect(response.status == .ok, "\(way)")
            }
            let wrong = try await client.execute(
                uri: "/v3/orgs/acme/iam/service-accounts", method: .post,
                headers: [.contentType: CtrlHubRoutes.mediaType, .sessionToken: "not-a-token"], body: ByteBuffer(string: body)
            )
            #expect(wrong.status == .unauthorized)
            let errors = try #require(try wrong.jsonObject()["errors"] as? [[String: Any]])
            #expect(errors.first?["code"] as? String == "AUTH.001")
        }
    }

    @Test func ctrlHubRefusesAClientGeneratedIDAndIgnoresOtherResourceMembers() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let withID = try await CtrlHubDialectTests.create(
                client, org: "acme", token: token,
                body: #"{"data":{"id":"5d7c2a9e-0b61-4a4f-9d4e-4c1f0e1f6a11","type":"service-accounts","attributes":{"name":"mine"}}}"#
            )
            #expect(withID.status == .forbidden)
            let error = try #require((try withID.jsonObject()["errors"] as? [[String: Any]])?.first)
            #expect(error["status"] as? String == "403")
            #expect(error["detail"] as? String == "the server assigns service account ids; leave out data.id")
            #expect((error["source"] as? [String: Any])?["pointer"] as? String == "/data/id")

            let withExtras = try await CtrlHubDialectTests.create(
                client, org: "acme", token: token,
                body:
                    #"{"data":{"type":"service-accounts","attributes":{"name":"extras"},"relationships":{"groups":{"data":[]}},"meta":{"source":"script"}},"meta":{"x":1}}"#
            )
            #expect(withExtras.status == .ok, "\(withExtras.text)")
        }
    }

    @Test func ctrlHubAnswersAMalformedOrganisationIDAsABadParameter() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let response = try await CtrlHubDialectTests.create(
                client, org: "Not%20A%20UUID", token: try await client.accessToken(admin),
                body: #"{"data":{"type":"service-accounts","attributes":{"name":"x"}}}"#
            )
            #expect(response.status == .badRequest)
            #expect(response.headers[.contentType] == CtrlHubRoutes.mediaType)
            let error = try #require((try response.jsonObject()["errors"] as? [[String: Any]])?.first)
            #expect(error["detail"] as? String == "org_id must be the organisation's UUID")
            #expect(error["source"] as? [String: String] == ["parameter": "org_id"])
        }
    }

    @Test func mixpanelUsernamesAreDescriptiveAndItsChallengeIsBasic() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let acme = try #require(try await harness.tessera.tenants.find("acme"))
        try await harness.run { client in
            let basic = MixpanelDialectTests.basic(admin)
            var usernames: Set<String> = [], ids: Set<Int> = []
            for _ in 0..<2 {
                let created = try await MixpanelDialectTests.create(
                    client, organization: String(acme.number), authorization: basic, body: #"{"username":"nightly-export"}"#
                )
                #expect(created.status == .created, "\(created.text)")
                let results = try #require(try created.jsonObject()["results"] as? [String: Any])
                usernames.insert(try #require(results["username"] as? String))
                ids.insert(try #require(results["id"] as? Int))
                // Never used yet: no last_used, rather than a made-up one.
                #expect(results["last_used"] == nil)
            }
            #expect(usernames.count == 2)
            #expect(ids.count == 2)
            let listed = try await client.call(
                .get, "/v1/tenants/acme/service-accounts?name_prefix=nightly-export", token: try await client.accessToken(admin)
            ).items()
            #expect(listed.count == 2)
            #expect(listed.contains { $0["name"] as? String == "nightly-export" })

            let anonymous = try await MixpanelDialectTests.create(client, organization: String(acme.number), authorization: nil, body: #"{"username":"x"}"#)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate] == #"Basic realm="tessera""#)
        }
    }

    @Test func qualyticsAnswersAtItsReferencePathsWithFastAPIErrors() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let user = try await QualyticsDialectTests.post(client, "/users", token: token, body: #"{"name":"Reference Path","role":"Editor"}"#)
            #expect(user.status == .ok)
            #expect(try user.jsonObject()["user_id"] as? String == "reference_path@service")
            let issued = try await QualyticsDialectTests.post(
                client, "/user-tokens", token: token, body: #"{"name":"ci","user_id":"reference_path@service","expires_in_days":30}"#
            )
            #expect(issued.status == .ok, "\(issued.text)")

            let invalid = try await QualyticsDialectTests.post(client, "/users", token: token, body: #"{"name":"x","role":"Owner"}"#)
            #expect(invalid.status == .unprocessableContent)
            let detail = try #require(try invalid.jsonObject()["detail"] as? [[String: Any]])
            #expect(detail.count == 1)
            #expect(detail.first?["loc"] as? [String] == ["body", "role"])
            #expect(detail.first?["msg"] as? String == "role must be one of Admin, Manager, Editor, Member")
            #expect(detail.first?["type"] as? String == "value_error")
            let unreadable = try await QualyticsDialectTests.post(client, "/users", token: token, body: "{")
            #expect(try (unreadable.jsonObject()["detail"] as? [[String: Any]])?.first?["loc"] as? [String] == ["body"])
            // Errors other than validation keep FastAPI's plain detail.
            let anonymous = try await QualyticsDialectTests.post(client, "/users", token: nil, body: #"{"name":"x","role":"Member"}"#)
            #expect(anonymous.status == .unauthorized)
            #expect(try anonymous.jsonObject()["detail"] as? String == "an access token is required")
        }
    }
}

/// Query strings are decoded as clients encode them: percent-encoded names and
/// values, and `+` for a space, on the dialects and the native API alike.
@Suite struct QueryDecodingTests {
    @Test func keycardsExpandArrivesPercentEncodedAsPythonRequestsSendsIt() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            // What requests.post(url, params={"expand[]": "permissions"}) puts on the wire.
            for (index, query) in ["?expand%5B%5D=permissions", "?expand[]=permissions", "?%65xpand=permissions"].enumerated() {
                let response = try await KeycardDialectTests.create(
                    client, token: token, organization: "acme", body: #"{"name":"expanded-\#(index)"}"#, query: query
                )
                #expect(response.status == .created, "\(query)")
                let permissions = try response.jsonObject()["permissions"] as? [String: [String: Bool]]
                #expect(permissions?["service_accounts"] == ["create": true, "read": true, "update": true, "delete": true, "list": true], "\(query)")
            }
            let plain = try await KeycardDialectTests.create(client, token: token, organization: "acme", body: #"{"name":"plain"}"#)
            #expect(try plain.jsonObject()["permissions"] == nil)
            // Malformed encoding is refused before anything is created.
            let malformed = try await KeycardDialectTests.create(client, token: token, organization: "acme", body: #"{"name":"never"}"#, query: "?expand=%zz")
            #expect(malformed.status == .badRequest)
            #expect(try malformed.jsonObject()["message"] as? String == "the query string is not valid percent-encoding")
            let listed = try await client.call(.get, "/v1/tenants/acme/service-accounts?name_prefix=never", token: token)
            #expect(try listed.items().isEmpty)
        }
    }

    @Test func theNativeAPIDecodesNamesValuesAndPlusSigns() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            #expect(try await client.createAccount(tenant: "acme", token: token, body: #"{"name":"nightly export"}"#).status == .created)
            #expect(try await client.createAccount(tenant: "acme", token: token, body: #"{"name":"nightly-other"}"#).status == .created)
            for query in ["name_prefix=nightly+e", "name_prefix=nightly%20e", "name%5Fprefix=nightly%20ex"] {
                let listed = try await client.call(.get, "/v1/tenants/acme/service-accounts?\(query)", token: token)
                #expect(listed.status == .ok, "\(query)")
                #expect(try listed.items().map { $0["name"] as? String } == ["nightly export"], "\(query)")
            }
            let malformed = try await client.call(.get, "/v1/tenants/acme/service-accounts?name_prefix=%E0%A4", token: token)
            #expect(malformed.status == .badRequest)
            #expect(try malformed.jsonObject()["detail"] as? String == "the query string is not valid percent-encoding")
        }
    }
}

/// Ctrl Hub's key object is `{id, client_secret, enabled, created_at}` and its
/// OAuth 2 scheme is client credentials: a client takes the key's `id` as its
/// client id.
@Suite struct CtrlHubKeyTests {
    @Test func aKeysIDWithItsSecretObtainsATokenByBasicAndByPost() async throws {
        let harness = try await ServerHarness(throttle: nil)
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let created = try await CtrlHubDialectTests.create(
                client, org: "acme", token: token, body: #"{"data":{"type":"service-accounts","attributes":{"name":"keyed"}}}"#
            )
            let data = try #require(try created.jsonObject()["data"] as? [String: Any])
            let key = try #require(((data["attributes"] as? [String: Any])?["keys"] as? [[String: Any]])?.first)
            let keyID = try #require(key["id"] as? String), secret = try #require(key["client_secret"] as? String)
            let clientID = try #require(key["client_id"] as? String)

            let basic = try await client.token("grant_type=client_credentials", basic: (keyID, secret))
            #expect(basic.status == .ok, "\(basic.text)")
            let accessToken = try #require(try basic.jsonObject()["access_token"] as? String)
            // The token names the account's client id, whichever id authenticated.
            let claims = try #require(Base64URL.decode(String(accessToken.split(separator: ".")[1])))
            #expect((try JSONSerialization.jsonObject(with: Data(claims)) as? [String: Any])?["client_id"] as? String == clientID)
            let post = try await client.token("grant_type=client_credentials&client_id=\(keyID)&client_secret=\(secret)")
            #expect(post.status == .ok)
            #expect(try await client.token("grant_type=client_credentials", basic: (keyID.uppercased(), secret)).status == .ok)

            // Another secret of the account does not pass under this key's id.
            let accountID = try #require(data["id"] as? String)
            let second = try await client.call(
                .post, "/v1/tenants/acme/service-accounts/\(accountID)/secrets", token: token, json: #"{"name":"second"}"#
            ).jsonObject()
            let secondSecret = try #require(second["client_secret"] as? String), secondID = try #require(second["id"] as? String)
            let crossed = try await client.token("grant_type=client_credentials", basic: (keyID, secondSecret))
            #expect(crossed.status == .unauthorized)
            #expect(try crossed.jsonObject()["error"] as? String == "invalid_client")
            #expect(try await client.token("grant_type=client_credentials", basic: (secondID, secondSecret)).status == .ok)
            // An unknown id, and a disabled key, are refused like any bad credentials.
            #expect(try await client.token("grant_type=client_credentials", basic: (UUID().uuidString, secret)).status == .unauthorized)
            let disabled = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(accountID)/secrets/\(keyID)", token: token, json: #"{"enabled":false}"#
            )
            #expect(disabled.status == .ok)
            let refused = try await client.token("grant_type=client_credentials", basic: (keyID, secret))
            #expect(refused.status == .unauthorized)
            #expect(try refused.jsonObject()["error"] as? String == "invalid_client")
        }
    }
}
