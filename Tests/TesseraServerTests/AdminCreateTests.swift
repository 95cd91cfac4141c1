import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import Testing

@testable import TesseraServer

@Suite struct AdminCreateTests {
    @Test func adminCreatesAnAccountWhoseSecretWorksAtTheTokenEndpoint() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let response = try await client.createAccount(
                tenant: "acme", token: token,
                body:
                    #"{"name":"billing","description":"Pays invoices","roles":["analyst","editor"],"groups":["Public"],"projects":[{"project":"p1","role":"analyst"}],"audiences":["https://orders.example"],"expires_at":"2099-01-01T00:00:00Z"}"#
            )
            #expect(response.status == .created)
            #expect(response.headers[.cacheControl] == "no-store")
            let body = try response.jsonObject()
            let id = try #require(body["id"] as? String)
            let clientID = try #require(body["client_id"] as? String)
            let secret = try #require(body["client_secret"] as? String)
            #expect(response.headers[.location] == "/v1/tenants/acme/service-accounts/\(id)")
            #expect(body["status"] as? String == "active")
            #expect(body["name"] as? String == "billing")
            #expect(body["description"] as? String == "Pays invoices")
            #expect(body["roles"] as? [String] == ["analyst", "editor"])
            #expect(body["groups"] as? [String] == ["Public"])
            #expect(body["audiences"] as? [String] == ["https://orders.example"])
            #expect(body["expires_at"] as? String == "2099-01-01T00:00:00Z")
            #expect(body["tenant_id"] as? String == admin.tenantID)
            #expect(body["created_by"] as? String == admin.serviceAccountID)
            #expect(secret.wholeMatch(of: try Regex(SecretFormat.pattern)) != nil)

            // The stored row holds the digest, never the secret.
            let stored = try #require(try await harness.tessera.storage.credentials(clientID: clientID))
            #expect(stored.account.id.uuidString.lowercased() == id)
            #expect(stored.account.projects == [.init(project: "p1", role: "analyst")])
            #expect(stored.secrets.map(\.digest) == [SecretFormat.digest(secret)])

            let tokenResponse = try await client.token(
                "grant_type=client_credentials&resource=https%3A%2F%2Forders.example", basic: (clientID, secret)
            )
            #expect(tokenResponse.status == .ok)
            #expect(try tokenResponse.jsonObject()["scope"] as? String == "api:read api:write")
        }
    }

    @Test func emptyBodyCreatesAnAccountWithDefaults() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let response = try await client.createAccount(tenant: admin.tenantID, token: try await client.accessToken(admin), body: "")
            #expect(response.status == .created)
            let body = try response.jsonObject()
            #expect((body["name"] as? String)?.hasPrefix("service-account-") == true)
            #expect(body["roles"] as? [String] == ["consumer"])
        }
    }

    @Test func missingTokenIs401WithBearerChallenge() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        _ = try await harness.credentials()
        try await harness.run { client in
            let response = try await client.createAccount(tenant: "acme", token: nil, body: "{}")
            #expect(response.status == .unauthorized)
            #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="tessera", DPoP algs="ES256 EdDSA RS256 PS256""#)
            #expect(response.headers[.contentType] == "application/problem+json")
            #expect(try response.jsonObject()["status"] as? Int == 401)
        }
    }

    @Test func invalidTokensAre401InvalidToken() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        // A token signed by a key this issuer never published.
        let foreign = try await ServerHarness()
        defer { foreign.cleanup() }
        let foreignAdmin = try await foreign.credentials()
        let foreignToken = try await foreign.run { client in try await client.accessToken(foreignAdmin) }
        try await harness.run { client in
            let valid = try await client.accessToken(admin)
            for token in ["garbage", valid + "x", String(valid.dropLast(5)), foreignToken] {
                let response = try await client.createAccount(tenant: "acme", token: token, body: "{}")
                #expect(response.status == .unauthorized)
                #expect(
                    response.headers[.wwwAuthenticate]
                        == #"Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid or expired", DPoP algs="ES256 EdDSA RS256 PS256", error="invalid_token", error_description="the access token is invalid or expired""#
                )
            }
        }
    }

    @Test func anotherTenantsAdminGets404AndCreatesNothing() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let acme = try await harness.credentials(tenant: "acme")
        let globex = try await harness.credentials(tenant: "globex")
        try await harness.run { client in
            let token = try await client.accessToken(globex)
            for reference in ["acme", acme.tenantID] {
                let response = try await client.createAccount(tenant: reference, token: token, body: #"{"name":"intruder"}"#)
                #expect(response.status == .notFound)
                #expect(try response.jsonObject()["detail"] as? String == "tenant not found")
            }
            // Same answer as a tenant that does not exist at all.
            let missing = try await client.createAccount(tenant: "initech", token: token, body: "{}")
            #expect(missing.status == .notFound)
            #expect(try missing.jsonObject()["detail"] as? String == "tenant not found")
        }
        let acmeID = try #require(UUID(uuidString: acme.tenantID))
        #expect(try await harness.tessera.storage.countServiceAccounts(tenantID: acmeID) == 1)
    }

    @Test func superAdminActsInEveryTenant() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        _ = try await harness.credentials(tenant: "acme")
        let root = try await harness.credentials(tenant: "root", role: "super_admin")
        try await harness.run { client in
            let response = try await client.createAccount(tenant: "acme", token: try await client.accessToken(root), body: #"{"name":"made-by-root"}"#)
            #expect(response.status == .created)
        }
    }

    @Test func tenantAdminCannotGrantSuperAdmin() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let response = try await client.createAccount(
                tenant: "acme", token: try await client.accessToken(admin), body: #"{"name":"escalate","roles":["super_admin"]}"#
            )
            #expect(response.status == .forbidden)
            #expect(try response.jsonObject()["detail"] as? String == "only a super admin may grant the role \"super_admin\"")
        }
        #expect(try await harness.tessera.storage.countServiceAccounts(tenantID: try #require(UUID(uuidString: admin.tenantID))) == 1)
    }

    @Test func nonAdminOfTheTenantGets403InsufficientScope() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let analyst = try await harness.credentials(role: "analyst")
        try await harness.run { client in
            let response = try await client.createAccount(tenant: "acme", token: try await client.accessToken(analyst), body: "{}")
            #expect(response.status == .forbidden)
            #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="tessera", error="insufficient_scope", scope="tessera:admin""#)
        }
    }

    struct BadBody: Sendable, CustomTestStringConvertible {
        let body: String
        let status: HTTPResponse.Status
        let field: String?
        let detail: String
        var testDescription: String { body.count > 60 ? String(body.prefix(60)) + "…" : body }
    }

    static let badBodies: [BadBody] = [
        BadBody(body: "{not json", status: .badRequest, field: nil, detail: "the body is not valid JSON, or names a member twice"),
        BadBody(body: #"{"name":"a","name":"b"}"#, status: .badRequest, field: nil, detail: "the body is not valid JSON, or names a member twice"),
        BadBody(
            body: #"{"name":"a","roles":["editor"],"roles":["admin"]}"#, status: .badRequest, field: nil,
            detail: "the body is not valid JSON, or names a member twice"),
        BadBody(body: "[1,2]", status: .badRequest, field: nil, detail: "the body must be a JSON object"),
        BadBody(body: #"{"name":"x","colour":"red"}"#, status: .badRequest, field: "colour", detail: "unknown member \"colour\""),
        BadBody(body: #"{"name":42}"#, status: .badRequest, field: "name", detail: "name must be a string"),
        BadBody(body: #"{"roles":"admin"}"#, status: .badRequest, field: "roles", detail: "roles must be an array of strings"),
        BadBody(body: #"{"roles":["admin",1]}"#, status: .badRequest, field: "roles", detail: "roles must be an array of strings"),
        BadBody(body: #"{"roles":["wizard"]}"#, status: .badRequest, field: "roles", detail: "unknown role \"wizard\""),
        BadBody(body: #"{"name":""}"#, status: .badRequest, field: "name", detail: "name must not be empty"),
        BadBody(
            body: "{\"name\":\"\(String(repeating: "n", count: 101))\"}", status: .badRequest, field: "name", detail: "name must be at most 100 characters"),
        BadBody(
            body: "{\"description\":\"\(String(repeating: "d", count: 501))\"}", status: .badRequest, field: "description",
            detail: "description must be at most 500 characters"),
        BadBody(
            body: #"{"expires_at":"tomorrow"}"#, status: .badRequest, field: "expires_at",
            detail: "expires_at must be an RFC 3339 timestamp such as 2030-01-01T00:00:00Z"),
        BadBody(body: #"{"expires_at":"2001-01-01T00:00:00Z"}"#, status: .badRequest, field: "expires_at", detail: "expires_at must be in the future"),
        BadBody(
            body: #"{"projects":[{"project":"p"}]}"#, status: .badRequest, field: "projects", detail: "projects: each project needs \"project\" and \"role\""),
        BadBody(
            body: #"{"projects":[{"project":"p","role":"analyst","x":1}]}"#, status: .badRequest, field: "projects", detail: "projects: unknown member \"x\""),
    ]

    @Test(arguments: badBodies)
    func badBodiesAre400ProblemsNamingTheField(_ bad: BadBody) async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let response = try await client.createAccount(tenant: "acme", token: try await client.accessToken(admin), body: bad.body)
            #expect(response.status == bad.status)
            #expect(response.headers[.contentType] == "application/problem+json")
            let body = try response.jsonObject()
            #expect(body["detail"] as? String == bad.detail)
            #expect(body["field"] as? String == bad.field)
            #expect(body["status"] as? Int == bad.status.code)
            #expect(body["title"] as? String == bad.status.reasonPhrase)
        }
        let tenantID = try #require(UUID(uuidString: admin.tenantID))
        #expect(try await harness.tessera.storage.countServiceAccounts(tenantID: tenantID) == 1)
    }

    @Test func duplicateNameIs409() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            #expect(try await client.createAccount(tenant: "acme", token: token, body: #"{"name":"billing"}"#).status == .created)
            let duplicate = try await client.createAccount(tenant: "acme", token: token, body: #"{"name":"billing"}"#)
            #expect(duplicate.status == .conflict)
            #expect(try duplicate.jsonObject()["detail"] as? String == "a service account named \"billing\" already exists")
        }
    }

    @Test func accountLimitIs409SayingTheLimit() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        _ = try await harness.tessera.tenants.create(slug: "small", accountLimit: 1)
        let admin = try await harness.credentials(tenant: "small")
        try await harness.run { client in
            let response = try await client.createAccount(tenant: "small", token: try await client.accessToken(admin), body: "{}")
            #expect(response.status == .conflict)
            #expect(try response.jsonObject()["detail"] as? String == "the tenant's limit of 1 service accounts is reached")
        }
    }

    @Test func nonJSONContentTypeIs415AndOversizeIs413() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let form = try await client.createAccount(tenant: "acme", token: token, body: "name=x", contentType: "application/x-www-form-urlencoded")
            #expect(form.status == .unsupportedMediaType)
            #expect(form.headers[.contentType] == "application/problem+json")
            #expect(
                try form.canonicalJSON()
                    == canonicalJSON(
                        #"{"type":"about:blank","title":"Unsupported Media Type","status":415,"detail":"the body must be application/json"}"#
                    ))
            let huge = "{\"description\":\"\(String(repeating: "d", count: 70_000))\"}"
            let oversize = try await client.createAccount(tenant: "acme", token: token, body: huge)
            #expect(oversize.status == .contentTooLarge)
            #expect(oversize.headers[.contentType] == "application/problem+json")
            #expect(
                try oversize.canonicalJSON()
                    == canonicalJSON(
                        #"{"type":"about:blank","title":"Content Too Large","status":413,"detail":"the body exceeds 65536 bytes"}"#
                    ))
        }
        // Neither created anything: the tenant holds only its admin.
        let tenantID = try #require(UUID(uuidString: admin.tenantID))
        #expect(try await harness.tessera.storage.countServiceAccounts(tenantID: tenantID) == 1)
    }

    @Test func concurrentCreatesWithOneNameYieldOne201() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let statuses = try await harness.run { client in
            let token = try await client.accessToken(admin)
            return try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await client.createAccount(tenant: "acme", token: token, body: #"{"name":"race"}"#).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(statuses.filter { $0 == .created }.count == 1)
        #expect(statuses.filter { $0 == .conflict }.count == 7)
    }
}
