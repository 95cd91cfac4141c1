import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TesseraCore
import TesseraTestSupport
@testable import TesseraServer

/// Decodes a JWT's payload without verifying it (the endpoint's own tests verify).
private func payload(_ token: String) throws -> [String: Any] {
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
            try expectError(try await create(organization, bearer, #"{"username":"x","role":"god"}"#), .badRequest, "role must be one of owner, admin, analyst, consumer")
            try expectError(
                try await create(organization, bearer, #"{"username":"x","expires":"soon"}"#), .badRequest,
                "expires must be an RFC 3339 timestamp such as 2030-01-01T00:00:00Z"
            )
            try expectError(try await create(organization, bearer, #"{"username":"x","projects":[{"id":"p"}]}"#), .badRequest, "projects: id must be an integer")
            try expectError(try await create(organization, bearer, "[1"), .badRequest, "the body is not valid JSON, or names a member twice")
            try expectError(try await create("acme", bearer, #"{"username":"x"}"#), .badRequest, "organizationId must be an integer")
            try expectError(try await create(organization, nil, #"{"username":"x"}"#), .unauthorized, "an access token is required")
            let wrong = "Basic " + Data("\(admin.clientID):tss_wrong".utf8).base64EncodedString()
            try expectError(try await create(organization, wrong, #"{"username":"x"}"#), .unauthorized, "the credentials are invalid")
            try expectError(try await create("999999", bearer, #"{"username":"x"}"#), .notFound, "organization not found")
            // Another organisation answers as an unknown one does.
            try expectError(try await create(String(globex.number), bearer, #"{"username":"x"}"#), .notFound, "organization not found")
        }
    }
}

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
            try expectError(try await Self.create(client, org: org, token: token, body: #"{"data":{"type":"service-accounts","attributes":{"name":""}}}"#),
                            .badRequest, pointer: "/data/attributes/name")
            try expectError(try await Self.create(client, org: org, token: token, body: #"{"data":{"type":"service-accounts"}}"#),
                            .badRequest, pointer: "/data/attributes")
            try expectError(try await Self.create(client, org: org, token: token, body: #"{}"#), .badRequest, pointer: "/data")
            try expectError(try await Self.create(client, org: org, token: token, body: "{"), .badRequest)
            try expectError(try await Self.create(client, org: org, token: token, body: #"{"data":{"type":"users","attributes":{"name":"x"}}}"#),
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
            #expect(user["email"] as? String == "api-access@acme.serviceaccount.tessera")
            #expect(user["name"] as? String == "API Access")
            #expect(user["user_type"] as? String == "Service")
            #expect(user["role"] as? String == "Editor")
            #expect(user["teams"] as? [String] == ["Public", "Data Engineering", "Data Quality"])

            // A token for it by integer id, 90 days; it obtains access tokens with the role's scopes.
            let created = try await Self.post(client, "/api/user-tokens", token: token, body: "{\"name\":\"pipeline-production\",\"user_id\":\(id),\"expires_in_days\":90}")
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
            let clientID = try #require(body["client_id"] as? String), secret = try #require(body["bearer_token"] as? String)
            let issued = try await client.token("grant_type=client_credentials", basic: (clientID, secret))
            #expect(try issued.jsonObject()["scope"] as? String == "api:read api:write")
            let accessToken = try #require(try issued.jsonObject()["access_token"] as? String)
            let claims = try payload(accessToken)
            #expect(claims["roles"] as? [String] == ["editor"])

            // The same name again for that user: 409; by its string id, never expiring: fine.
            let again = try await Self.post(client, "/api/user-tokens", token: token, body: "{\"name\":\"pipeline-production\",\"user_id\":\(id)}")
            #expect(again.status == .conflict)
            #expect(try again.jsonObject()["detail"] is String)
            let never = try await Self.post(client, "/api/user-tokens", token: token, body: #"{"name":"forever","user_id":"api_access@service","expires_in_days":null}"#)
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
            let clientID = try #require(try created.jsonObject()["client_id"] as? String)
            let secret = try #require(try created.jsonObject()["bearer_token"] as? String)
            let issued = try await client.token("grant_type=client_credentials", basic: (clientID, secret))
            #expect(try issued.jsonObject()["scope"] as? String == "scim")
            let refused = try await client.token("grant_type=client_credentials&scope=tessera:admin", basic: (clientID, secret))
            #expect(try refused.jsonObject()["error"] as? String == "invalid_scope")
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
                let expected = status == .unprocessableContent
                    ? #"{"detail":[{"loc":["body","\#(member ?? "")"],"msg":"\#(detail)","type":"value_error"}]}"#
                    : #"{"detail":"\#(detail)"}"#
                #expect(try response.canonicalJSON() == canonicalJSON(expected))
            }
            let users = "/api/users", tokens = "/api/user-tokens"
            try expectDetail(try await Self.post(client, users, token: nil, body: #"{"name":"x","role":"Member"}"#), .unauthorized, "an access token is required")
            try expectDetail(
                try await Self.post(client, users, token: try await client.accessToken(member), body: #"{"name":"x","role":"Member"}"#), .forbidden,
                "only administrators may manage service users"
            )
            try expectDetail(
                try await Self.post(client, users, token: token, body: #"{"name":"x","role":"Owner"}"#), .unprocessableContent,
                "role must be one of Admin, Manager, Editor, Member", at: "role"
            )
            try expectDetail(try await Self.post(client, users, token: token, body: #"{"role":"Member"}"#), .unprocessableContent, "name is required", at: "name")
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
            try expectDetail(try await Self.post(client, tokens, token: token, body: #"{"name":"t"}"#), .unprocessableContent, "user_id is required", at: "user_id")
            try expectDetail(try await Self.post(client, tokens, token: token, body: #"{"name":"t","user_id":999999}"#), .notFound, "service account not found")
            // Another tenant's service user is not found either.
            let globex = try await client.accessToken(try await harness.credentials(tenant: "globex"))
            let theirs = try await Self.post(client, users, token: globex, body: #"{"name":"Theirs","role":"Member"}"#)
            let theirID = try #require(try theirs.jsonObject()["id"] as? Int)
            try expectDetail(try await Self.post(client, tokens, token: token, body: "{\"name\":\"t\",\"user_id\":\(theirID)}"), .notFound, "service account not found")
        }
    }
}

@Suite struct DialectErrorPathTests {
    @Test func repeatedWrongBasicCredentialsAreThrottledInMixpanelsShape() async throws {
        let clock = TestClock()
        let harness = try await ServerHarness(clock: clock)
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let organization = String(try #require(try await harness.tessera.tenants.find("acme")).number)
        let wrong = "Basic " + Data("\(admin.clientID):\(SecretFormat.make(randomBytes: Array(repeating: 3, count: 32)))".utf8).base64EncodedString()
        try await harness.run { client in
            for attempt in 1...8 {
                // Past 5 failures the lock is 1 s, doubled at each further failure; the
                // clock moves on by each lock, so every attempt is checked again.
                let response = try await MixpanelDialectTests.create(client, organization: organization, authorization: wrong, body: #"{"username":"x"}"#)
                #expect(response.status == .unauthorized, "attempt \(attempt)")
                #expect(try response.canonicalJSON() == canonicalJSON(#"{"error":"the credentials are invalid","status":"error"}"#))
                if attempt >= 5 {
                    let locked = try await MixpanelDialectTests.create(client, organization: organization, authorization: wrong, body: #"{"username":"x"}"#)
                    let wait = 1 << (attempt - 5)
                    #expect(locked.status == .tooManyRequests, "attempt \(attempt)")
                    #expect(locked.headers[.retryAfter] == String(wait), "attempt \(attempt)")
                    #expect(try locked.canonicalJSON() == canonicalJSON(#"{"error":"too many failed attempts","status":"error"}"#))
                    clock.advance(TimeInterval(wait))
                }
            }
        }
    }

    @Test func ctrlHubRefusesAnotherMediaTypeWithItsOwn400() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let response = try await client.execute(
                uri: "/v3/orgs/\(admin.tenantID)/iam/service-accounts", method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "text/plain"],
                body: ByteBuffer(string: #"{"data":{"type":"service-accounts","attributes":{"name":"x"}}}"#)
            )
            #expect(response.status == .badRequest)
            #expect(response.headers[.contentType] == CtrlHubRoutes.mediaType)
            let error = try #require((try response.jsonObject()["errors"] as? [[String: Any]])?.first)
            #expect(error["status"] as? String == "400")
        }
    }

    @Test func anyErrorBecomesTheProblemItAnswers() {
        #expect(Problem(StoreError.unavailable("down") as any Error).status == .serviceUnavailable)
        #expect(Problem(StoreError.unavailable("down") as any Error).headers[.retryAfter] == "1")
        #expect(Problem(DomainError(.conflict, "taken") as any Error).status == .conflict)
        #expect(Problem(Problem(.badRequest, "bad", field: "f") as any Error).field == "f")
        #expect(Problem(CancellationError() as any Error).status == .internalServerError)
        #expect(Problem(CancellationError() as any Error).detail == "internal error")
    }
}
