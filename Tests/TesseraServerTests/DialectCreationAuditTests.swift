import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraServer

/// What the README promises of every dialect's creation: it reaches the audit
/// log as the native create does, with the account's native id.
@Suite struct DialectCreationAuditTests {
    static func auditedCreations(_ client: some TestClientProtocol, token: String) async throws -> [[String: Any]] {
        let events = try await client.call(.get, "/v1/tenants/acme/audit-events?action=service_account.create", token: token)
        #expect(events.status == .ok)
        return try events.items()
    }

    @Test func rezolveCreationsAreAudited() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let response = try await RezolveDialectTests.create(client, token: token, tenant: "acme")
            #expect(response.status == .ok)
            let id = try #require((try response.jsonObject()["data"] as? [String: Any])?["id"] as? String)
            let events = try await Self.auditedCreations(client, token: token)
            #expect(events.count == 1)
            #expect(events.first?["resource_id"] as? String == String(id.dropFirst(3)))
            #expect(events.first?["outcome"] as? String == "success")
            #expect(events.first?["status"] as? Int == 200)
            #expect(events.first?["actor"] as? String == admin.serviceAccountID)
        }
    }

    @Test func keycardCreationsAreAudited() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let response = try await KeycardDialectTests.create(client, token: token, organization: "acme", body: #"{"name":"audited-bot"}"#)
            #expect(response.status == .created)
            let listed = try await client.call(.get, "/v1/tenants/acme/service-accounts?name_prefix=audited-bot", token: token)
            let nativeID = try #require(try listed.items().first?["id"] as? String)
            let events = try await Self.auditedCreations(client, token: token)
            #expect(events.count == 1)
            #expect(events.first?["resource_id"] as? String == nativeID)
            #expect(events.first?["status"] as? Int == 201)
        }
    }

    /// Rezolve's creations carry no name: past twenty in one second the generated
    /// names once ran out and the route answered 500.
    @Test func manyUnnamedRezolveCreationsInOneSecondAllSucceed() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            var ids: Set<String> = [], clientIDs: Set<String> = []
            for _ in 0..<30 {
                let response = try await RezolveDialectTests.create(client, token: token, tenant: "acme")
                #expect(response.status == .ok, "\(response.text)")
                let data = try #require(try response.jsonObject()["data"] as? [String: Any])
                ids.insert(try #require(data["id"] as? String))
                clientIDs.insert(try #require(data["clientId"] as? String))
            }
            #expect(ids.count == 30)
            #expect(clientIDs.count == 30)
        }
    }
}
