import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import Testing

@testable import TesseraServer

/// One account, many faces: every id a dialect hands out names the account on the
/// native routes too.
@Suite struct AccountFacesTests {
    @Test func everyDialectsIdNamesTheAccountOnTheNativeRoutes() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let acme = try #require(try await harness.tessera.tenants.find("acme"))
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let rezolve = try await RezolveDialectTests.create(client, token: token, tenant: "acme").jsonObject()
            let rezolveID = try #require((rezolve["data"] as? [String: Any])?["id"] as? String)
            let keycard = try await KeycardDialectTests.create(client, token: token, organization: "acme", body: #"{"name":"keycard-face"}"#)
            let keycardID = try #require(try keycard.jsonObject()["id"] as? String)
            let mixpanel = try await MixpanelDialectTests.create(
                client, organization: String(acme.number), authorization: "Bearer \(token)", body: #"{"username":"mixpanel-face"}"#
            )
            let mixpanelID = try #require((try mixpanel.jsonObject()["results"] as? [String: Any])?["id"] as? Int)
            let qualytics = try await QualyticsDialectTests.post(client, "/api/users", token: token, body: #"{"name":"Qualytics Face","role":"Member"}"#)
            let qualyticsUser = try #require(try qualytics.jsonObject()["user_id"] as? String)
            #expect(qualyticsUser == "qualytics_face@service")

            let faces: [(String, String)] = [
                (rezolveID, String(rezolveID.dropFirst(3))),
                (keycardID, try #require(Crockford32.decodeUUID(keycardID)).uuidString.lowercased()),
                (keycardID.uppercased(), try #require(Crockford32.decodeUUID(keycardID)).uuidString.lowercased()),
                (String(mixpanelID), ""),
                (qualyticsUser, ""),
            ]
            for (face, expected) in faces {
                let response = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(face)", token: token)
                #expect(response.status == .ok, "\(face)")
                let id = try #require(try response.jsonObject()["id"] as? String)
                if !expected.isEmpty { #expect(id == expected, "\(face)") }
                let secrets = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(face)/secrets", token: token)
                #expect(secrets.status == .ok, "\(face)")
                // Keycard's accounts and Qualytics' service users are made without a secret
                // (their credentials have a call of their own).
                let withoutSecret = face.lowercased() == keycardID || face == qualyticsUser
                #expect(try secrets.items().count == (withoutSecret ? 0 : 1), "\(face)")
            }
            let byNumber = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(mixpanelID)", token: token).jsonObject()
            #expect(byNumber["number"] as? Int == mixpanelID)
            #expect(byNumber["name"] as? String == "mixpanel-face")

            // A face deletes as the id does, and the audit event names the UUID.
            let deleted = try await client.call(.delete, "/v1/tenants/acme/service-accounts/\(keycardID)", token: token)
            #expect(deleted.status == .noContent)
            let events = try await client.call(.get, "/v1/tenants/acme/audit-events?action=service_account.delete", token: token).items()
            #expect(events.first?["resource_id"] as? String == Crockford32.decodeUUID(keycardID)?.uuidString.lowercased())
            #expect(try await client.call(.get, "/v1/tenants/acme/service-accounts/\(keycardID)", token: token).status == .notFound)

            for nonsense in ["sa-xyz", "0", "-1", String(repeating: "z", count: 26), "8" + String(repeating: "0", count: 25), "someone", "nobody@service"] {
                let response = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(nonsense)", token: token)
                #expect(response.status == .notFound, "\(nonsense)")
            }
        }
    }
}
