import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import TesseraTestSupport
import Testing

@testable import TesseraServer

@Suite struct AdminLifecycleTests {
    /// Creates an account through the API and returns its JSON.
    static func create(_ client: some TestClientProtocol, _ token: String, tenant: String = "acme", _ json: String) async throws -> [String: Any] {
        let response = try await client.call(.post, "/v1/tenants/\(tenant)/service-accounts", token: token, json: json)
        #expect(response.status == .created, "\(response.text)")
        return try response.jsonObject()
    }

    @Test func getPatchAndDeleteAnAccount() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let created = try await Self.create(client, token, #"{"name":"worker","roles":["analyst"],"description":"d"}"#)
            let id = try #require(created["id"] as? String)
            let clientID = try #require(created["client_id"] as? String), secret = try #require(created["client_secret"] as? String)
            let path = "/v1/tenants/acme/service-accounts/\(id)"

            let fetched = try await client.call(.get, path, token: token)
            #expect(fetched.status == .ok)
            let body = try fetched.jsonObject()
            #expect(body["name"] as? String == "worker")
            #expect(body["client_secret"] == nil)

            let patched = try await client.call(
                .patch, path, token: token, json: #"{"name":"worker-2","roles":["editor"],"description":null,"token_lifetime":600,"groups":["ops"]}"#)
            #expect(patched.status == .ok)
            let after = try patched.jsonObject()
            #expect(after["name"] as? String == "worker-2")
            #expect(after["roles"] as? [String] == ["editor"])
            #expect(after["description"] is NSNull)
            #expect(after["token_lifetime"] as? Int == 600)
            #expect(after["groups"] as? [String] == ["ops"])
            // The new roles and lifetime take effect at the token endpoint at once.
            let issued = try await client.token("grant_type=client_credentials", basic: (clientID, secret))
            #expect(try issued.jsonObject()["scope"] as? String == "api:read api:write")
            #expect(try issued.jsonObject()["expires_in"] as? Int == 600)

            let disabled = try await client.call(.patch, path, token: token, json: #"{"status":"disabled"}"#)
            #expect(try disabled.jsonObject()["status"] as? String == "disabled")
            let refused = try await client.token("grant_type=client_credentials", basic: (clientID, secret))
            #expect(refused.status == .unauthorized)
            #expect(try refused.jsonObject()["error"] as? String == "invalid_client")

            _ = try await client.call(.patch, path, token: token, json: #"{"status":"active"}"#)
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, secret)).status == .ok)

            let deleted = try await client.call(.delete, path, token: token)
            #expect(deleted.status == .noContent)
            #expect(try await client.call(.get, path, token: token).status == .notFound)
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, secret)).status == .unauthorized)
            #expect(try await harness.tessera.storage.credentials(clientID: clientID) == nil)
        }
    }

    @Test func expiredAccountIsRefusedAtTheTokenEndpoint() async throws {
        let clock = TestClock()
        let harness = try await ServerHarness(clock: clock)
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let expiry = ExpiryTests.timestamp(clock.now.addingTimeInterval(60))
            let created = try await Self.create(client, token, #"{"name":"temp","expires_at":"\#(expiry)"}"#)
            #expect(created["expires_at"] as? String == expiry)
            let clientID = try #require(created["client_id"] as? String), secret = try #require(created["client_secret"] as? String)
            clock.advance(59)
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, secret)).status == .ok)
            clock.advance(1)
            let refused = try await client.token("grant_type=client_credentials", basic: (clientID, secret))
            #expect(refused.status == .unauthorized)
            #expect(try refused.canonicalJSON() == canonicalJSON(ExpiryTests.invalidClient))
            // The API refuses a date that is not in the future.
            let past = try await client.call(.post, "/v1/tenants/acme/service-accounts", token: token, json: #"{"name":"late","expires_at":"\#(expiry)"}"#)
            #expect(past.status == .badRequest)
            #expect(try past.jsonObject()["detail"] as? String == "expires_at must be in the future")
        }
    }

    @Test func listPagesWithCursorsAndFilters() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            for index in 1...5 {
                _ = try await Self.create(
                    client, token, #"{"name":"batch-\#(index)","roles":["\#(index % 2 == 0 ? "editor" : "analyst")"],"groups":["g\#(index % 2)"]}"#)
            }
            var names: [String] = []
            var cursor: String?
            repeat {
                let uri = "/v1/tenants/acme/service-accounts?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await client.call(.get, uri, token: token)
                #expect(page.status == .ok)
                names += try page.items().compactMap { $0["name"] as? String }
                cursor = try page.jsonObject()["next_cursor"] as? String
            } while cursor != nil
            #expect(names.filter { $0.hasPrefix("batch-") } == ["batch-1", "batch-2", "batch-3", "batch-4", "batch-5"])
            #expect(names.count == 6)  // and the bootstrap admin

            let editors = try await client.call(.get, "/v1/tenants/acme/service-accounts?role=editor", token: token)
            #expect(try editors.items().compactMap { $0["name"] as? String } == ["batch-2", "batch-4"])
            let group = try await client.call(.get, "/v1/tenants/acme/service-accounts?group=g1&name_prefix=batch-", token: token)
            #expect(try group.items().compactMap { $0["name"] as? String } == ["batch-1", "batch-3", "batch-5"])
            let active = try await client.call(.get, "/v1/tenants/acme/service-accounts?status=disabled", token: token)
            #expect(try active.items().isEmpty)
        }
    }

    @Test(arguments: [
        ("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"), ("cursor=bogus", "cursor"),
        ("cursor=YzE6LTE", "cursor"), ("status=asleep", "status"),
    ])
    func badListParametersAre400(_ query: String, _ field: String) async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let response = try await client.call(.get, "/v1/tenants/acme/service-accounts?\(query)", token: try await client.accessToken(admin))
            #expect(response.status == .badRequest)
            #expect(try response.jsonObject()["field"] as? String == field)
        }
    }

    @Test func badIDsAndUnknownIDsAre404() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            for id in ["not-a-uuid", UUID().uuidString] {
                let response = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(id)", token: token)
                #expect(response.status == .notFound)
                #expect(try response.jsonObject()["detail"] as? String == "service account not found")
            }
        }
    }

    @Test func patchValidationNamesTheField() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let id = try #require(try await Self.create(client, token, #"{"name":"target"}"#)["id"] as? String)
            _ = try await Self.create(client, token, #"{"name":"taken"}"#)
            let path = "/v1/tenants/acme/service-accounts/\(id)"
            for (json, status, field) in [
                (#"{"status":"sleeping"}"#, HTTPResponse.Status.badRequest, "status" as String?),
                (#"{"token_lifetime":5}"#, .badRequest, "token_lifetime"),
                (#"{"token_lifetime":"60"}"#, .badRequest, "token_lifetime"),
                (#"{"roles":["wizard"]}"#, .badRequest, "roles"),
                (#"{"id":"x"}"#, .badRequest, "id"),
                (#"{"name":"taken"}"#, .conflict, nil),
            ] {
                let response = try await client.call(.patch, path, token: token, json: json)
                #expect(response.status == status, "\(json)")
                #expect(try response.jsonObject()["field"] as? String == field, "\(json)")
            }
        }
    }

    @Test func secretsRotateWithOverlapAndAreNeverShownAgain() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let account = try await Self.create(client, token, #"{"name":"rotating","roles":["editor"]}"#)
            let id = try #require(account["id"] as? String), clientID = try #require(account["client_id"] as? String)
            let first = try #require(account["client_secret"] as? String)
            let secrets = "/v1/tenants/acme/service-accounts/\(id)/secrets"

            let created = try await client.call(.post, secrets, token: token, json: #"{"name":"second","expires_in_days":30}"#)
            #expect(created.status == .created)
            let secondJSON = try created.jsonObject()
            let second = try #require(secondJSON["client_secret"] as? String)
            let secondID = try #require(secondJSON["id"] as? String)
            #expect(secondJSON["hint"] as? String == SecretFormat.hint(second))
            #expect(secondJSON["expires_at"] is String)

            // Both work at once.
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, first)).status == .ok)
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, second)).status == .ok)

            let listed = try await client.call(.get, secrets, token: token)
            #expect(listed.status == .ok)
            #expect(try listed.items().compactMap { $0["name"] as? String } == ["default", "second"])
            #expect(!listed.text.contains(first) && !listed.text.contains(second))
            #expect(try listed.items().allSatisfy { $0["client_secret"] == nil })

            let defaultID = try #require(try listed.items().first?["id"] as? String)
            let disabled = try await client.call(.patch, "\(secrets)/\(defaultID)", token: token, json: #"{"enabled":false}"#)
            #expect(disabled.status == .ok)
            #expect(try disabled.jsonObject()["enabled"] as? Bool == false)
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, first)).status == .unauthorized)
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, second)).status == .ok)

            #expect(try await client.call(.delete, "\(secrets)/\(secondID)", token: token).status == .noContent)
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, second)).status == .unauthorized)
            #expect(try await client.call(.delete, "\(secrets)/\(secondID)", token: token).status == .notFound)
        }
    }

    @Test func scimOnlySecretNeverYieldsMoreThanItsScopes() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let account = try await Self.create(client, token, #"{"name":"scim-client","roles":["editor"]}"#)
            let id = try #require(account["id"] as? String), clientID = try #require(account["client_id"] as? String)
            let restricted = try await client.call(
                .post, "/v1/tenants/acme/service-accounts/\(id)/secrets", token: token, json: #"{"name":"scim","scopes":["api:read"],"expires_in_days":365}"#
            )
            let secret = try #require(try restricted.jsonObject()["client_secret"] as? String)
            let issued = try await client.token("grant_type=client_credentials", basic: (clientID, secret))
            #expect(try issued.jsonObject()["scope"] as? String == "api:read")
            let widened = try await client.token("grant_type=client_credentials&scope=api%3Awrite", basic: (clientID, secret))
            #expect(widened.status == .badRequest)
            #expect(try widened.jsonObject()["error"] as? String == "invalid_scope")
        }
    }

    @Test func secretInputIsValidated() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let id = try #require(try await Self.create(client, token, #"{"name":"s"}"#)["id"] as? String)
            let path = "/v1/tenants/acme/service-accounts/\(id)/secrets"
            for (json, status, field) in [
                (#"{}"#, HTTPResponse.Status.badRequest, "name" as String?),
                (#"{"name":"x","expires_in_days":45}"#, .badRequest, "expires_in_days"),
                (#"{"name":"x","expires_in_days":30,"expires_at":"2099-01-01T00:00:00Z"}"#, .badRequest, "expires_in_days"),
                (#"{"name":"x","scopes":["bad scope"]}"#, .badRequest, "scopes"),
                (#"{"name":"default"}"#, .conflict, nil),
            ] {
                let response = try await client.call(.post, path, token: token, json: json)
                #expect(response.status == status, "\(json)")
                #expect(try response.jsonObject()["field"] as? String == field, "\(json)")
            }
        }
    }

    @Test func customRolesCanBeCreatedUsedChangedAndDeleted() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let created = try await client.call(.post, "/v1/tenants/acme/roles", token: token, json: #"{"name":"billing","scopes":["invoices:read"]}"#)
            #expect(created.status == .created)
            let account = try await Self.create(client, token, #"{"name":"biller","roles":["billing","analyst"]}"#)
            let clientID = try #require(account["client_id"] as? String), secret = try #require(account["client_secret"] as? String)
            #expect(
                try await client.token("grant_type=client_credentials", basic: (clientID, secret)).jsonObject()["scope"] as? String
                    == "api:read invoices:read")

            let updated = try await client.call(.put, "/v1/tenants/acme/roles/billing", token: token, json: #"{"scopes":["invoices:read","invoices:write"]}"#)
            #expect(updated.status == .ok)
            #expect(
                try await client.token("grant_type=client_credentials", basic: (clientID, secret)).jsonObject()["scope"] as? String
                    == "api:read invoices:read invoices:write")

            let inUse = try await client.call(.delete, "/v1/tenants/acme/roles/billing", token: token)
            #expect(inUse.status == .conflict)
            let id = try #require(account["id"] as? String)
            _ = try await client.call(.patch, "/v1/tenants/acme/service-accounts/\(id)", token: token, json: #"{"roles":["analyst"]}"#)
            #expect(try await client.call(.delete, "/v1/tenants/acme/roles/billing", token: token).status == .noContent)
            let roles = try await client.call(.get, "/v1/tenants/acme/roles", token: token)
            #expect(try !roles.items().contains { $0["name"] as? String == "billing" })
            #expect(try roles.items().count == Role.defaultCatalogue.count)

            for (method, uri, json, status) in [
                (HTTPRequest.Method.put, "/v1/tenants/acme/roles/admin", #"{"scopes":[]}"#, HTTPResponse.Status.conflict),
                (.delete, "/v1/tenants/acme/roles/admin", nil, .conflict),
                (.post, "/v1/tenants/acme/roles", #"{"name":"analyst","scopes":[]}"#, .conflict),
                (.post, "/v1/tenants/acme/roles", #"{"name":"root","scopes":["tessera:super"]}"#, .badRequest),
                (.post, "/v1/tenants/acme/roles", #"{"name":"Bad Name","scopes":[]}"#, .badRequest),
                (.put, "/v1/tenants/acme/roles/missing", #"{"scopes":[]}"#, .notFound),
            ] {
                let response = try await client.call(method, uri, token: token, json: json)
                #expect(response.status == status, "\(method) \(uri)")
            }
        }
    }

    @Test func tenantsAreManagedBySuperAdminsOnly() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let root = try await harness.credentials(tenant: "root", role: "super_admin")
        let admin = try await harness.credentials(tenant: "acme")
        try await harness.run { client in
            let superToken = try await client.accessToken(root)
            let created = try await client.call(
                .post, "/v1/tenants", token: superToken, json: #"{"slug":"initech","name":"Initech","account_limit":2,"token_lifetime":900}"#)
            #expect(created.status == .created)
            let tenant = try created.jsonObject()
            #expect(tenant["slug"] as? String == "initech")
            #expect(tenant["number"] as? Int == 3)
            #expect(tenant["account_limit"] as? Int == 2)
            #expect(tenant["token_lifetime"] as? Int == 900)

            let duplicate = try await client.call(.post, "/v1/tenants", token: superToken, json: #"{"slug":"initech"}"#)
            #expect(duplicate.status == .conflict)
            let badSlug = try await client.call(.post, "/v1/tenants", token: superToken, json: #"{"slug":"Not Valid"}"#)
            #expect(try badSlug.jsonObject()["field"] as? String == "slug")

            let listed = try await client.call(.get, "/v1/tenants?limit=2", token: superToken)
            #expect(try listed.items().compactMap { $0["slug"] as? String } == ["root", "acme"])
            #expect(try listed.jsonObject()["next_cursor"] is String)

            let patched = try await client.call(.patch, "/v1/tenants/initech", token: superToken, json: #"{"name":"Initech Corp","account_limit":null}"#)
            #expect(patched.status == .ok)
            #expect(try patched.jsonObject()["account_limit"] is NSNull)
            #expect(try await client.call(.get, "/v1/tenants/initech", token: superToken).jsonObject()["name"] as? String == "Initech Corp")

            let adminToken = try await client.accessToken(admin)
            for (method, uri) in [(HTTPRequest.Method.get, "/v1/tenants"), (.post, "/v1/tenants"), (.get, "/v1/tenants/acme"), (.patch, "/v1/tenants/acme")] {
                let response = try await client.call(method, uri, token: adminToken, json: method == .get ? nil : #"{"slug":"x"}"#)
                #expect(response.status == .forbidden, "\(method) \(uri)")
            }
        }
    }

    @Test func whoamiDescribesTheCaller() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let response = try await client.call(.get, "/v1/whoami", token: try await client.accessToken(admin))
            #expect(response.status == .ok)
            let body = try response.jsonObject()
            #expect(body["account_id"] as? String == admin.serviceAccountID)
            #expect(body["client_id"] as? String == admin.clientID)
            #expect(body["roles"] as? [String] == ["admin"])
            #expect(body["scopes"] as? [String] == ["api:read", "api:write", "scim", "tessera:admin", "tessera:introspect"])
            #expect((body["tenant"] as? [String: Any])?["slug"] as? String == "acme")
            #expect(try await client.call(.get, "/v1/whoami", token: nil).status == .unauthorized)
        }
    }

    @Test func auditLogRecordsActionsNewestFirstWithoutSecrets() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let account = try await Self.create(client, token, #"{"name":"audited"}"#)
            let id = try #require(account["id"] as? String)
            _ = try await client.execute(
                uri: "/v1/tenants/acme/service-accounts/\(id)", method: .patch,
                headers: [.authorization: "Bearer \(token)", .contentType: "application/json", .requestID: "req-42"],
                body: ByteBuffer(string: #"{"status":"disabled"}"#)
            )
            _ = try await client.call(.post, "/v1/tenants/acme/service-accounts", token: token, json: #"{"name":"audited"}"#)  // 409
            let events = try await client.call(.get, "/v1/tenants/acme/audit-events", token: token)
            #expect(events.status == .ok)
            let items = try events.items()
            #expect(items.compactMap { $0["action"] as? String } == ["service_account.create", "service_account.update", "service_account.create"])
            #expect(items.map { $0["outcome"] as? String } == ["failure", "success", "success"])
            #expect(items.map { $0["status"] as? Int } == [409, 200, 201])
            #expect(items[1]["resource_id"] as? String == id)
            #expect(items[1]["request_id"] as? String == "req-42")
            #expect(items.allSatisfy { $0["actor"] as? String == admin.serviceAccountID })
            #expect(!events.text.contains(try #require(account["client_secret"] as? String)))

            let failures = try await client.call(.get, "/v1/tenants/acme/audit-events?outcome=failure", token: token)
            #expect(try failures.items().count == 1)
            let paged = try await client.call(.get, "/v1/tenants/acme/audit-events?limit=2", token: token)
            let cursor = try #require(try paged.jsonObject()["next_cursor"] as? String)
            let rest = try await client.call(.get, "/v1/tenants/acme/audit-events?limit=2&cursor=\(cursor)", token: token)
            #expect(try rest.items().compactMap { $0["status"] as? Int } == [201])
        }
    }

    /// Every tenant route, called by another tenant's admin: 404, and nothing changes.
    @Test func anotherTenantsAdminGets404OnEveryRoute() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let acme = try await harness.credentials(tenant: "acme")
        let globex = try await harness.credentials(tenant: "globex")
        try await harness.run { client in
            let acmeToken = try await client.accessToken(acme)
            let account = try await Self.create(client, acmeToken, #"{"name":"victim"}"#)
            let id = try #require(account["id"] as? String)
            let secretID = try #require(
                try await client.call(.get, "/v1/tenants/acme/service-accounts/\(id)/secrets", token: acmeToken).items().first?["id"] as? String)
            let registered = try await client.call(
                .post, "/v1/tenants/acme/service-accounts/\(id)/keys", token: acmeToken, json: try Self.jwkBody(kid: "victim-key"))
            #expect(registered.status == .created)
            let intruder = try await client.accessToken(globex)
            // acme's own GET above put acme in the tenant cache the admin API's GETs read
            // (by slug and by id): the GETs below are refused from it, the others from the store.
            let base = "/v1/tenants/acme"
            let routes: [(HTTPRequest.Method, String, String?)] = [
                (.get, "\(base)/service-accounts", nil),
                (.post, "\(base)/service-accounts", #"{"name":"x"}"#),
                (.get, "\(base)/service-accounts/\(id)", nil),
                (.patch, "\(base)/service-accounts/\(id)", #"{"status":"disabled"}"#),
                (.delete, "\(base)/service-accounts/\(id)", nil),
                (.get, "\(base)/service-accounts/\(id)/secrets", nil),
                (.post, "\(base)/service-accounts/\(id)/secrets", #"{"name":"x"}"#),
                (.patch, "\(base)/service-accounts/\(id)/secrets/\(secretID)", #"{"enabled":false}"#),
                (.delete, "\(base)/service-accounts/\(id)/secrets/\(secretID)", nil),
                (.post, "\(base)/service-accounts/\(id)/keys", try Self.jwkBody(kid: "intruder-key")),
                (.get, "\(base)/service-accounts/\(id)/keys", nil),
                (.delete, "\(base)/service-accounts/\(id)/keys/victim-key", nil),
                (.get, "\(base)/roles", nil),
                (.post, "\(base)/roles", #"{"name":"x","scopes":[]}"#),
                (.put, "\(base)/roles/analyst", #"{"scopes":[]}"#),
                (.delete, "\(base)/roles/analyst", nil),
                (.get, "\(base)/audit-events", nil),
            ]
            for (method, uri, json) in routes {
                for reference in [uri, uri.replacingOccurrences(of: "/acme", with: "/\(acme.tenantID)")] {
                    let response = try await client.call(method, reference, token: intruder, json: json)
                    #expect(response.status == .notFound, "\(method) \(reference)")
                    #expect(try response.jsonObject()["detail"] as? String == "tenant not found")
                }
            }
            // Nothing changed.
            let still = try await client.call(.get, "\(base)/service-accounts/\(id)", token: acmeToken)
            #expect(try still.jsonObject()["status"] as? String == "active")
            #expect(try await client.call(.get, "\(base)/service-accounts/\(id)/secrets", token: acmeToken).items().first?["enabled"] as? Bool == true)
            #expect(try await client.call(.get, "\(base)/service-accounts", token: acmeToken).items().count == 2)
            let keys = try await client.call(.get, "\(base)/service-accounts/\(id)/keys", token: acmeToken).items()
            #expect(keys.compactMap { $0["kid"] as? String } == ["victim-key"])
        }
    }

    /// A JSON body registering a new P-256 public key under `kid`.
    static func jwkBody(kid: String) throws -> String {
        var jwk = try SigningKey.generate(.es256).publicJWK
        jwk.kid = kid
        return #"{"jwk":\#(String(decoding: try JSONEncoder().encode(jwk), as: UTF8.self))}"#
    }

    /// A tenant admin on its own tenant's path, naming another tenant's account,
    /// secret and key: every route is 404 as for an unknown id, and nothing of the
    /// other tenant changes (read back by that tenant's admin).
    @Test func anotherTenantsIDsUnderTheCallersOwnTenantAre404() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let acme = try await harness.credentials(tenant: "acme")
        let globex = try await harness.credentials(tenant: "globex")
        try await harness.run { client in
            let acmeToken = try await client.accessToken(acme)
            let victim = try await Self.create(client, acmeToken, #"{"name":"victim","roles":["analyst"]}"#)
            let id = try #require(victim["id"] as? String)
            let acmePath = "/v1/tenants/acme/service-accounts/\(id)"
            let secretID = try #require(try await client.call(.get, "\(acmePath)/secrets", token: acmeToken).items().first?["id"] as? String)
            #expect(try await client.call(.post, "\(acmePath)/keys", token: acmeToken, json: try Self.jwkBody(kid: "victim-key")).status == .created)
            let before = try await client.call(.get, acmePath, token: acmeToken).canonicalJSON()
            let secretsBefore = try await client.call(.get, "\(acmePath)/secrets", token: acmeToken).canonicalJSON()
            let keysBefore = try await client.call(.get, "\(acmePath)/keys", token: acmeToken).canonicalJSON()

            let globexToken = try await client.accessToken(globex)
            let own = try await Self.create(client, globexToken, tenant: "globex", #"{"name":"own-worker"}"#)
            let ownID = try #require(own["id"] as? String)
            let base = "/v1/tenants/globex/service-accounts"
            let cases: [(HTTPRequest.Method, String, String?, String)] = [
                (.get, "\(base)/\(id)", nil, "service account not found"),
                (.patch, "\(base)/\(id)", #"{"status":"disabled","name":"hijacked"}"#, "service account not found"),
                (.delete, "\(base)/\(id)", nil, "service account not found"),
                (.get, "\(base)/\(id)/secrets", nil, "service account not found"),
                (.post, "\(base)/\(id)/secrets", #"{"name":"backdoor"}"#, "service account not found"),
                (.patch, "\(base)/\(id)/secrets/\(secretID)", #"{"enabled":false}"#, "service account not found"),
                (.delete, "\(base)/\(id)/secrets/\(secretID)", nil, "service account not found"),
                // The other tenant's secret and key under the caller's own account.
                (.patch, "\(base)/\(ownID)/secrets/\(secretID)", #"{"enabled":false}"#, "secret not found"),
                (.delete, "\(base)/\(ownID)/secrets/\(secretID)", nil, "secret not found"),
                (.get, "\(base)/\(id)/keys", nil, "service account not found"),
                (.post, "\(base)/\(id)/keys", try Self.jwkBody(kid: "backdoor-key"), "service account not found"),
                (.delete, "\(base)/\(id)/keys/victim-key", nil, "service account not found"),
                (.delete, "\(base)/\(ownID)/keys/victim-key", nil, "key not found"),
            ]
            for (method, uri, json, detail) in cases {
                let response = try await client.call(method, uri, token: globexToken, json: json)
                #expect(response.status == .notFound, "\(method) \(uri)")
                #expect(response.headers[.contentType] == "application/problem+json", "\(method) \(uri)")
                #expect(
                    try response.canonicalJSON()
                        == canonicalJSON(
                            #"{"type":"about:blank","title":"Not Found","status":404,"detail":"\#(detail)"}"#
                        ), "\(method) \(uri)")
            }

            // Nothing of acme's changed, as acme's admin reads it.
            #expect(try await client.call(.get, acmePath, token: acmeToken).canonicalJSON() == before)
            #expect(try await client.call(.get, "\(acmePath)/secrets", token: acmeToken).canonicalJSON() == secretsBefore)
            #expect(try await client.call(.get, "\(acmePath)/keys", token: acmeToken).canonicalJSON() == keysBefore)
            #expect(try await client.call(.get, "/v1/tenants/acme/service-accounts", token: acmeToken).items().count == 2)
            let secret = try #require(victim["client_secret"] as? String), clientID = try #require(victim["client_id"] as? String)
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, secret)).status == .ok)
            // And globex gained nothing: its own worker has its one secret and no key.
            #expect(try await client.call(.get, "\(base)/\(ownID)/secrets", token: globexToken).items().count == 1)
            #expect(try await client.call(.get, "\(base)/\(ownID)/keys", token: globexToken).items().isEmpty)
        }
    }

    /// A tenant admin may not grant `super_admin` (it carries `tessera:super`) by a
    /// PATCH of an account's roles, nor put `tessera:super` into a custom role.
    @Test func aTenantAdminCannotGrantTheSuperScope() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials(tenant: "acme")
        let root = try await harness.credentials(tenant: "root", role: "super_admin")
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let account = try await Self.create(client, token, #"{"name":"climber","roles":["analyst"]}"#)
            let path = "/v1/tenants/acme/service-accounts/\(try #require(account["id"] as? String))"
            let before = try await client.call(.get, path, token: token).canonicalJSON()
            for roles in [#"["super_admin"]"#, #"["analyst","super_admin"]"#] {
                let escalated = try await client.call(.patch, path, token: token, json: #"{"roles":\#(roles)}"#)
                #expect(escalated.status == .forbidden, "\(roles)")
                #expect(escalated.headers[.contentType] == "application/problem+json")
                #expect(
                    try escalated.canonicalJSON()
                        == canonicalJSON(
                            #"{"type":"about:blank","title":"Forbidden","status":403,"detail":"only a super admin may grant the role \"super_admin\""}"#
                        ), "\(roles)")
            }
            #expect(try await client.call(.get, path, token: token).canonicalJSON() == before)
            let clientID = try #require(account["client_id"] as? String), secret = try #require(account["client_secret"] as? String)
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, secret)).jsonObject()["scope"] as? String == "api:read")

            // A custom role cannot be made to carry tessera:super. This is refused as
            // invalid input (400, naming the field), as creating such a role is, and
            // for a super admin too: no custom role may ever carry it.
            #expect(
                try await client.call(.post, "/v1/tenants/acme/roles", token: token, json: #"{"name":"billing","scopes":["invoices:read"]}"#).status == .created
            )
            let rolesBefore = try await client.call(.get, "/v1/tenants/acme/roles", token: token).canonicalJSON()
            for caller in [token, try await client.accessToken(root)] {
                let put = try await client.call(.put, "/v1/tenants/acme/roles/billing", token: caller, json: #"{"scopes":["invoices:read","tessera:super"]}"#)
                #expect(put.status == .badRequest)
                #expect(
                    try put.canonicalJSON()
                        == canonicalJSON(
                            #"{"type":"about:blank","title":"Bad Request","status":400,"detail":"a custom role cannot carry tessera:super","field":"scopes"}"#
                        ))
            }
            #expect(try await client.call(.get, "/v1/tenants/acme/roles", token: token).canonicalJSON() == rolesBefore)
        }
    }

    @Test func tenantAdminCannotTouchASuperAdminAccount() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials(tenant: "acme")
        let root = try await harness.credentials(tenant: "acme", role: "super_admin")
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let path = "/v1/tenants/acme/service-accounts/\(root.serviceAccountID)"
            #expect(try await client.call(.patch, path, token: token, json: #"{"status":"disabled"}"#).status == .forbidden)
            #expect(try await client.call(.delete, path, token: token).status == .forbidden)
            #expect(try await client.call(.post, path + "/secrets", token: token, json: #"{"name":"mine"}"#).status == .forbidden)
        }
    }

    @Test func anAccountCannotDisableOrDeleteItself() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let path = "/v1/tenants/acme/service-accounts/\(admin.serviceAccountID)"
            let disable = try await client.call(.patch, path, token: token, json: #"{"status":"disabled"}"#)
            #expect(disable.status == .conflict)
            #expect(try disable.jsonObject()["detail"] as? String == "an account cannot disable itself")
            let delete = try await client.call(.delete, path, token: token)
            #expect(delete.status == .conflict)
            #expect(try await client.call(.get, "/v1/whoami", token: token).status == .ok)
        }
    }

    @Test func nullIsRefusedWhereItClearsNothing() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let response = try await client.call(.post, "/v1/tenants/acme/service-accounts", token: token, json: #"{"name":null}"#)
            #expect(response.status == .badRequest)
            #expect(try response.jsonObject()["detail"] as? String == "name must not be null")
            let id = try #require(try await Self.create(client, token, #"{"name":"n","description":"x"}"#)["id"] as? String)
            let cleared = try await client.call(.patch, "/v1/tenants/acme/service-accounts/\(id)", token: token, json: #"{"description":null}"#)
            #expect(cleared.status == .ok)
            #expect(try cleared.jsonObject()["description"] is NSNull)
        }
    }

    @Test func disabledAdminsTokenStopsWorking() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let first = try await harness.credentials()
        let second = try await harness.credentials()
        try await harness.run { client in
            let secondToken = try await client.accessToken(second)
            let disable = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(second.serviceAccountID)", token: try await client.accessToken(first),
                json: #"{"status":"disabled"}"#
            )
            #expect(disable.status == .ok)
            #expect(try await client.call(.get, "/v1/whoami", token: secondToken).status == .unauthorized)
        }
    }
}
