import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraServer

@Suite struct CtrlHubDialectTests {
    static func create(_ client: some TestClientProtocol, org: String, token: String?, body: String) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: CtrlHubRoutes.mediaType]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: "/v3/orgs/\(org)/iam/service-accounts", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    @Test func createsAJSONAPIResourceWhoseKeyObtainsTokens() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let response = try await Self.create(
                client, org: admin.tenantID, token: try await client.accessToken(admin),
                body: #"{"data":{"type":"service-accounts","attributes":{"name":"API Integration Service","description":"third-party"}}}"#
            )
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/vnd.api+json")
            #expect(response.headers[.requestID]?.isEmpty == false)
            #expect(response.headers[.contentLength] == String(response.body.readableBytes))
            let body = try response.jsonObject()
            #expect((body["jsonapi"] as? [String: String])?["version"] == "1.0")
            let data = try #require(body["data"] as? [String: Any])
            #expect(data["type"] as? String == "service-accounts")
            let id = try #require(data["id"] as? String)
            #expect(UUID(uuidString: id) != nil)
            let attributes = try #require(data["attributes"] as? [String: Any])
            #expect(attributes["name"] as? String == "API Integration Service")
            #expect(attributes["description"] as? String == "third-party")
            #expect(attributes["email"] as? String == "api-integration-service@acme.serviceaccount.tessera")
            #expect(attributes["enabled"] as? Bool == true)
            let key = try #require((attributes["keys"] as? [[String: Any]])?.first)
            let keyID = try #require(key["id"] as? String)
            #expect(UUID(uuidString: keyID) != nil)
            #expect(key["enabled"] as? Bool == true)
            let meta = try #require(data["meta"] as? [String: String])
            #expect(meta["created_at"] == meta["updated_at"])
            let relationships = try #require(data["relationships"] as? [String: [String: [[String: String]]]])
            #expect(relationships["groups"]?["data"] == [])
            #expect(relationships["organisations"]?["data"] == [["id": admin.tenantID, "type": "organisations"]])

            let clientID = try #require(key["client_id"] as? String), secret = try #require(key["client_secret"] as? String)
            let issued = try await client.token("grant_type=client_credentials", basic: (clientID, secret))
            #expect(issued.status == .ok)
            let accessToken = try #require(try issued.jsonObject()["access_token"] as? String)
            let claims = try payload(accessToken)
            #expect(claims["sub"] as? String == id)
            #expect(claims["tenant"] as? String == admin.tenantID)
            let native = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(id)", token: try await client.accessToken(admin))
            #expect(try native.jsonObject()["client_id"] as? String == clientID)
        }
    }

    @Test func errorsAreJSONAPIErrorObjectsWithTheDocumentedStatuses() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let analyst = try await harness.credentials(role: "analyst")
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, code: String? = nil, pointer: String? = nil) throws {
                #expect(response.status == status)
                #expect(response.headers[.contentType] == "application/vnd.api+json")
                let errors = try #require(try response.jsonObject()["errors"] as? [[String: Any]])
                #expect(errors.count == 1)
                let error = try #require(errors.first)
                let errorID = try #require(error["id"] as? String)
                #expect(UUID(uuidString: errorID) != nil)
                #expect(error["status"] as? String == String(status.code))
                #expect((error["title"] as? String)?.isEmpty == false)
                #expect(error["code"] as? String == code)
                #expect((error["source"] as? [String: String])?["pointer"] == pointer)
            }
            let org = admin.tenantID
            try expectError(
                try await Self.create(client, org: org, token: token, body: #"{"data":{"type":"service-accounts","attributes":{"name":""}}}"#),
                .badRequest, pointer: "/data/attributes/name")
            try expectError(
                try await Self.create(client, org: org, token: token, body: #"{"data":{"type":"service-accounts"}}"#),
                .badRequest, pointer: "/data/attributes")
            try expectError(try await Self.create(client, org: org, token: token, body: #"{}"#), .badRequest, pointer: "/data")
            try expectError(try await Self.create(client, org: org, token: token, body: "{"), .badRequest)
            try expectError(
                try await Self.create(client, org: org, token: token, body: #"{"data":{"type":"users","attributes":{"name":"x"}}}"#),
                .conflict, code: "CONFLICT.001", pointer: "/data/type")
            let body = #"{"data":{"type":"service-accounts","attributes":{"name":"twice"}}}"#
            #expect(try await Self.create(client, org: org, token: token, body: body).status == .ok)
            try expectError(try await Self.create(client, org: org, token: token, body: body), .conflict, code: "CONFLICT.001")
            try expectError(try await Self.create(client, org: org, token: nil, body: body), .unauthorized, code: "AUTH.001")
            try expectError(try await Self.create(client, org: org, token: try await client.accessToken(analyst), body: body), .unauthorized, code: "AUTH.001")
            try expectError(try await Self.create(client, org: UUID().uuidString, token: token, body: body), .unauthorized, code: "AUTH.001")
        }
    }
}
