import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraServer

/// Decodes a JWT's payload without verifying it (the endpoint's own tests verify).
func payload(_ token: String) throws -> [String: Any] {
    let part = token.split(separator: ".")[1]
    var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    let data = try #require(Data(base64Encoded: base64))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

@Suite struct MixpanelDialectTests {
    static func create(
        _ client: some TestClientProtocol, organization: String, authorization: String?, body: String
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let authorization { headers[.authorization] = authorization }
        return try await client.execute(
            uri: "/api/app/organizations/\(organization)/service-accounts", method: .post, headers: headers, body: ByteBuffer(string: body)
        )
    }

    static func basic(_ credentials: Bootstrap.Result) -> String {
        "Basic " + Data("\(credentials.clientID):\(credentials.clientSecret)".utf8).base64EncodedString()
    }

    @Test func createsWithBasicAuthenticationAndTheResultsShape() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let tenant = try #require(try await harness.tessera.tenants.find("acme"))
        let adminAccount = try await harness.tessera.accounts.get(try #require(UUID(uuidString: admin.serviceAccountID)), in: tenant)
        try await harness.run { client in
            let response = try await Self.create(
                client, organization: String(tenant.number), authorization: Self.basic(admin),
                body: #"{"username":"pipeline","role":"analyst","expires":"2031-01-01T00:00:00Z","projects":[{"id":12345,"role":"consumer"}]}"#
            )
            #expect(response.status == .created)
            let body = try response.jsonObject()
            #expect(body["status"] as? String == "ok")
            let results = try #require(body["results"] as? [String: Any])
            #expect(Set(results.keys) == ["token", "id", "username", "expires", "creator", "created", "user"])
            let token = try #require(results["token"] as? String)
            #expect(SecretFormat.isWellFormed(token))
            let username = try #require(results["username"] as? String)
            #expect(results["expires"] as? String == "2031-01-01T00:00:00Z")
            #expect(results["creator"] as? Int == adminAccount.number)
            let id = try #require(results["id"] as? Int)
            #expect(results["user"] as? Int == id)
            #expect((results["created"] as? String)?.hasSuffix("Z") == true)

            // One account: the native API shows it by its client id, with the role and project.
            let list = try await client.call(.get, "/v1/tenants/acme/service-accounts?name_prefix=pipeline", token: try await client.accessToken(admin))
            let native = try #require(try list.items().first)
            #expect(native["client_id"] as? String == username)
            #expect(native["roles"] as? [String] == ["analyst"])
            #expect((native["projects"] as? [[String: String]])?.first?["project"] == "12345")

            // The username and token authenticate at the token endpoint, with the role's scopes.
            let issued = try await client.token("grant_type=client_credentials", basic: (username, token))
            #expect(issued.status == .ok)
            #expect(try issued.jsonObject()["scope"] as? String == "api:read")
            // ...and, being an analyst, may not create accounts itself: 403.
            let analyst = "Basic " + Data("\(username):\(token)".utf8).base64EncodedString()
            let forbidden = try await Self.create(client, organization: String(tenant.number), authorization: analyst, body: #"{"username":"x"}"#)
            #expect(forbidden.status == .forbidden)
            #expect(try forbidden.jsonObject()["status"] as? String == "error")
        }
    }

    @Test func bearerTokensWorkAndErrorsHaveTheDocumentedShape() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        _ = try await harness.credentials(tenant: "globex")
        let acme = try #require(try await harness.tessera.tenants.find("acme"))
        let globex = try #require(try await harness.tessera.tenants.find("globex"))
        try await harness.run { client in
            let bearer = "Bearer " + (try await client.accessToken(admin))
            let organization = String(acme.number)
            let created = try await Self.create(client, organization: organization, authorization: bearer, body: #"{"username":"by-bearer"}"#)
            #expect(created.status == .created)
            let username = try #require((try created.jsonObject()["results"] as? [String: Any])?["username"] as? String)
            let native = try await client.call(.get, "/v1/tenants/acme/service-accounts?name_prefix=by-bearer", token: String(bearer.dropFirst(7)))
            #expect(try native.items().first?["client_id"] as? String == username)
            #expect(try native.items().first?["roles"] as? [String] == [MixpanelRoutes.defaultRole])

            /// `{error, status: "error"}`; a 401 challenges for HTTP Basic, the seed's scheme.
            func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, _ error: String) throws {
                #expect(response.status == status, "\(error)")
                #expect(response.headers[.wwwAuthenticate] == (status == .unauthorized ? #"Basic realm="tessera""# : nil), "\(error)")
                #expect(try response.canonicalJSON() == canonicalJSON(#"{"error":"\#(error)","status":"error"}"#))
            }
            let create = { (organization: String, authorization: String?, body: String) in
                try await Self.create(client, organization: organization, authorization: authorization, body: body)
            }
            try expectError(try await create(organization, bearer, #"{"role":"admin"}"#), .badRequest, "username is required")
            try expectError(
                try await create(organization, bearer, #"{"username":"x","role":"god"}"#), .badRequest, "role must be one of owner, admin, analyst, consumer")
            try expectError(
                try await create(organization, bearer, #"{"username":"x","expires":"soon"}"#), .badRequest,
                "expires must be an RFC 3339 timestamp such as 2030-01-01T00:00:00Z"
            )
            try expectError(
                try await create(organization, bearer, #"{"username":"x","projects":[{"id":"p"}]}"#), .badRequest, "projects: id must be an integer")
            try expectError(try await create(organization, bearer, "[1"), .badRequest, "the body is not valid JSON, or names a member twice")
            try expectError(try await create("acme", bearer, #"{"username":"x"}"#), .badRequest, "organizationId must be an integer")
            try expectError(try await create(organization, nil, #"{"username":"x"}"#), .unauthorized, "an access token is required")
            let wrong = "Basic " + Data("\(admin.clientID):tss_wrong".utf8).base64EncodedString()
            try expectError(try await create(organization, wrong, #"{"username":"x"}"#), .unauthorized, "the credentials are invalid")
            // An account whose tokens must be DPoP-bound cannot act through Basic credentials.
            let bound = try await harness.credentials(tenant: "acme", role: "admin")
            let boundAccount = try #require(try await harness.tessera.storage.credentials(clientID: bound.clientID)?.account)
            _ = try await harness.tessera.accounts.update(boundAccount.id, in: acme, ServiceAccountPatch(dpopRequired: true), by: .bootstrap)
            let basic = "Basic " + Data("\(bound.clientID):\(bound.clientSecret)".utf8).base64EncodedString()
            try expectError(
                try await create(organization, basic, #"{"username":"x"}"#), .unauthorized,
                "this account's tokens must be DPoP-bound or certificate-bound: use such a token, not Basic credentials")
            try expectError(try await create("999999", bearer, #"{"username":"x"}"#), .notFound, "organization not found")
            // Another organisation answers as an unknown one does.
            try expectError(try await create(String(globex.number), bearer, #"{"username":"x"}"#), .notFound, "organization not found")
        }
    }
}
