import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraServer

@Suite struct RezolveDialectTests {
    static func create(_ client: some TestClientProtocol, token: String?, tenant: String?) async throws -> TestResponse {
        var headers: HTTPFields = [.accept: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let tenant { headers[.tenantID] = tenant }
        return try await client.execute(uri: "/api/v1/admin/service-account/create", method: .post, headers: headers)
    }

    @Test func createsAnAccountThatGetsTokensWithTheEnvelope() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let response = try await Self.create(client, token: try await client.accessToken(admin), tenant: admin.tenantID)
            #expect(response.status == .ok)
            let body = try response.jsonObject()
            #expect(body["success"] as? Bool == true)
            #expect(body["message"] as? String == "Service account created successfully")
            #expect((body["timestamp"] as? String)?.hasSuffix("Z") == true)
            let data = try #require(body["data"] as? [String: Any])
            let id = try #require(data["id"] as? String)
            #expect(id.hasPrefix("sa-") && UUID(uuidString: String(id.dropFirst(3))) != nil)
            #expect((data["name"] as? String)?.hasPrefix("service-account-") == true)
            #expect(data["type"] as? String == "service_account")
            #expect(data["status"] as? String == "active")
            #expect(data["permissions"] as? [String] == ["api:read", "api:write"])
            let createdBy = try #require(data["createdBy"] as? [String: Any])
            #expect(createdBy["id"] as? String == admin.serviceAccountID)
            #expect((createdBy["email"] as? String)?.hasSuffix("@acme.serviceaccount.tessera") == true)
            #expect((data["tenant"] as? [String: Any])?["id"] as? String == admin.tenantID)
            // One account is one account: visible natively, and it obtains tokens.
            let clientID = try #require(data["clientId"] as? String), secret = try #require(data["clientSecret"] as? String)
            let issued = try await client.token("grant_type=client_credentials", basic: (clientID, secret))
            #expect(try issued.jsonObject()["scope"] as? String == "api:read api:write")
            let native = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(id.dropFirst(3))", token: try await client.accessToken(admin))
            #expect(try native.jsonObject()["client_id"] as? String == clientID)
        }
    }

    @Test func errorsUseTheEnvelopeAndTheDocumentedStatuses() async throws {
        let clock = TestClock()
        let harness = try await ServerHarness(clock: clock)
        defer { harness.cleanup() }
        _ = try await harness.tessera.tenants.create(slug: "small", accountLimit: 1)
        let small = try await harness.credentials(tenant: "small")
        let analyst = try await harness.credentials(tenant: "acme", role: "analyst")
        try await harness.run { client in
            /// Rezolve's error envelope: `error {code, message, details}` (the seed's
            /// title as message) and the time of the answer (the test clock's).
            func expectFailure(_ response: TestResponse, _ status: HTTPResponse.Status, _ message: String, _ error: String) throws {
                let code =
                    switch status {
                    case .unauthorized: "UNAUTHORIZED"
                    case .forbidden: "FORBIDDEN"
                    case .conflict: "CONFLICT"
                    default: "VALIDATION_ERROR"
                    }
                #expect(response.status == status, "\(message)")
                #expect(response.headers[.contentType] == "application/json")
                #expect(
                    try response.canonicalJSON()
                        == canonicalJSON(
                            #"{"success":false,"error":{"code":"\#(code)","message":"\#(message)","details":"\#(error)"},"timestamp":"2027-01-15T08:00:00.000Z"}"#
                        ), "\(message)")
            }
            let unauthenticated = try await Self.create(client, token: nil, tenant: "acme")
            try expectFailure(unauthenticated, .unauthorized, "Authentication failed", "Bearer token is missing, expired, or invalid")
            #expect(unauthenticated.headers[.wwwAuthenticate] == #"Bearer realm="tessera""#)

            let forbidden = try await Self.create(client, token: try await client.accessToken(analyst), tenant: "acme")
            try expectFailure(forbidden, .forbidden, "Insufficient permissions", "the caller may not manage service accounts in this tenant")
            // Another tenant answers as an unknown one does.
            let otherTenant = try await Self.create(client, token: try await client.accessToken(small), tenant: "acme")
            try expectFailure(otherTenant, .forbidden, "Insufficient permissions", "the caller may not manage service accounts in this tenant")
            let unknown = try await Self.create(client, token: try await client.accessToken(small), tenant: "no-such-tenant")
            try expectFailure(unknown, .forbidden, "Insufficient permissions", "the caller may not manage service accounts in this tenant")

            let limit = try await Self.create(client, token: try await client.accessToken(small), tenant: "small")
            try expectFailure(limit, .conflict, "Limit reached", "the tenant's limit of 1 service accounts is reached")

            let missing = try await Self.create(client, token: try await client.accessToken(small), tenant: nil)
            try expectFailure(missing, .badRequest, "Invalid request", "the x-tenantid header is required")
        }
    }
}
