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
