import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraServer

@Suite struct KeycardDialectTests {
    static func create(
        _ client: some TestClientProtocol, token: String, organization: String, body: String, query: String = "", requestID: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
        if let requestID { headers[.clientRequestID] = requestID }
        return try await client.execute(
            uri: "/organizations/\(organization)/service-accounts\(query)", method: .post, headers: headers, body: ByteBuffer(string: body)
        )
    }

    @Test func createsWithA26CharacterIdAndEchoesTheRequestID() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let requestID = UUID().uuidString
            let response = try await Self.create(
                client, token: try await client.accessToken(admin), organization: "acme", body: #"{"name":"keycard-bot","description":"d"}"#,
                requestID: requestID
            )
            #expect(response.status == .created)
            #expect(response.headers[.clientRequestID] == requestID)
            let body = try response.jsonObject()
            let id = try #require(body["id"] as? String)
            #expect(id.count == 26)
            #expect(id.allSatisfy { $0.isLetter || $0.isNumber })
            #expect(body["name"] as? String == "keycard-bot")
            #expect(body["description"] as? String == "d")
            #expect(body["permissions"] == nil)
            #expect(Set(body.keys) == ["id", "created_at", "name", "updated_at", "description"])
        }
    }

    @Test func permissionsOnlyWithExpand() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let response = try await Self.create(
                client, token: try await client.accessToken(admin), organization: admin.tenantID, body: #"{"name":"x"}"#,
                query: "?expand[]=permissions"
            )
            let permissions = try #require(try response.jsonObject()["permissions"] as? [String: [String: Bool]])
            #expect(permissions["organizations"]?["read"] == true)
        }
    }

    @Test func badInputIsRefused() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            #expect(try await Self.create(client, token: token, organization: "acme", body: "{}").status == .badRequest)
            let long = "{\"name\":\"x\",\"description\":\"\(String(repeating: "d", count: 501))\"}"
            #expect(try await Self.create(client, token: token, organization: "acme", body: long).status == .badRequest)
            #expect(try await Self.create(client, token: token, organization: "acme", body: #"{"name":"x"}"#, requestID: "nope").status == .badRequest)
            #expect(try await Self.create(client, token: token, organization: "globex", body: #"{"name":"x"}"#).status == .notFound)
        }
    }
}
