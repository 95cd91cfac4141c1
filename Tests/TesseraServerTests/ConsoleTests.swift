import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraServer

/// The web console as docs/console.md describes it: its files compiled in and served
/// with a strict policy, and one-time sign-in links that work once, for an admin,
/// before they expire, each use recorded in the audit log.
@Suite struct ConsoleTests {
    private func signIn(_ client: any TestClientProtocol, code: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/console/sign-in", method: .post, headers: [.contentType: "application/json"],
            body: ByteBuffer(string: #"{"code":"\#(code)"}"#)
        )
    }

    /// The `detail` of the tenant's `console.sign_in` failures, newest first.
    private func refusedSignIns(_ harness: ServerHarness) async throws -> [String?] {
        let tenant = try #require(try await harness.storage.tenant(slug: "acme"))
        let filter = AuditFilter(action: "console.sign_in", outcome: .failure)
        return try await harness.tessera.audit.list(in: tenant, filter: filter, before: nil, limit: 20).items.map(\.detail)
    }

    private func auditActions(_ client: any TestClientProtocol, token: String) async throws -> [(String, String)] {
        let events = try await client.call(.get, "/v1/tenants/acme/audit-events", token: token)
        #expect(events.status == .ok)
        return try events.items().map { ($0["action"] as? String ?? "", $0["outcome"] as? String ?? "") }
    }

    @Test func thePageAndItsModulesAreServedWithAStrictPolicy() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            for path in [
                "/console", "/console/", "/console/tenants/acme/service-accounts", "/console/signing-keys", "/console/assets/app.js",
                "/console/assets/console.css",
            ] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .ok, "\(path)")
                #expect(response.headers[.contentSecurityPolicy] == Console.contentSecurityPolicy)
                #expect(response.headers[.xFrameOptions] == "DENY")
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[.referrerPolicy] == "no-referrer")
            }
            let page = try await client.execute(uri: "/console/", method: .get)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.text.contains(#"<script type="module" src="/console/assets/app.js"></script>"#))
            // No inline script: every <script> names its source.
            #expect(page.text.components(separatedBy: "<script").count - 1 == page.text.components(separatedBy: "<script type=\"module\" src=").count - 1)
            #expect(!Console.contentSecurityPolicy.contains("unsafe-inline"))

            // Every page of the console is the one document, which routes by its path.
            let deep = try await client.execute(uri: "/console/tenants/acme/service-accounts/123", method: .get)
            #expect(deep.text == page.text)

            let module = try await client.execute(uri: "/console/assets/app.js", method: .get)
            #expect(module.headers[.contentType] == "text/javascript; charset=utf-8")
            let etag = try #require(module.headers[.eTag])
            let again = try await client.execute(uri: "/console/assets/app.js", method: .get, headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified)
            #expect(again.body.readableBytes == 0)

            let missing = try await client.execute(uri: "/console/assets/nothing.js", method: .get)
            #expect(missing.status == .notFound)
            #expect(missing.headers[.xFrameOptions] == "DENY")
            let traversal = try await client.execute(uri: "/console/assets/..%2FPackage.swift", method: .get)
            #expect(traversal.status == .notFound)
        }
    }

    @Test func theConsoleCanBeTurnedOff() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let app = Application(router: TesseraHTTP.router(tessera: harness.tessera, configuration: .init(console: false)))
        try await app.test(.router) { client in
            let page = try await client.execute(uri: "/console/", method: .get)
            #expect(page.status == .notFound)
            let signedIn = try await signIn(client, code: "tsl_x")
            #expect(signedIn.status == .notFound)
        }
    }

    @Test func aLinkSignsInOnceAndEachStepIsAudited() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let link = try await harness.tessera.consoleSignIn.link(clientID: admin.clientID, actor: "cli")
        #expect(link.code.hasPrefix("tsl_"))
        #expect(!link.code.contains(admin.clientID))
        try await harness.run { client in
            let first = try await signIn(client, code: link.code)
            #expect(first.status == .ok, "\(first.text)")
            #expect(first.headers[.cacheControl] == "no-store")
            let token = try #require(try first.jsonObject()["access_token"] as? String)
            #expect(try first.jsonObject()["token_type"] as? String == "Bearer")
            // Only the console's authority, not every scope of the admin role.
            #expect(try first.jsonObject()["scope"] as? String == "tessera:admin")
            let whoami = try await client.call(.get, "/v1/whoami", token: token)
            #expect(whoami.status == .ok)
            #expect(try whoami.jsonObject()["client_id"] as? String == admin.clientID)

            let second = try await signIn(client, code: link.code)
            #expect(second.status == .badRequest)
            #expect(try second.jsonObject()["detail"] as? String == "this sign-in link was already used; a link works once")
            #expect(try second.jsonObject()["field"] as? String == "code")

            let actions = try await auditActions(client, token: token)
            #expect(actions.filter { $0.0 == "console.sign_in" }.map(\.1) == ["failure", "success"])
            #expect(actions.contains { $0 == ("console.sign_in_link.create", "success") })
        }
    }

    @Test func aLinkRefusedForGoingTooFastStaysGoodForARetry() async throws {
        let clock = TestClock()
        // One token per second per account.
        let harness = try await ServerHarness(clock: clock, tokenRateLimit: 1)
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let link = try await harness.tessera.consoleSignIn.link(clientID: admin.clientID, actor: "cli")
        try await harness.run { client in
            // The account's token for this second is taken, so the sign-in is refused…
            #expect(try await client.token("grant_type=client_credentials", basic: (admin.clientID, admin.clientSecret)).status == .ok)
            let limited = try await signIn(client, code: link.code)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] == "1")
            // …and the same link works once the account may have a token again, once.
            clock.advance(1)
            #expect(try await signIn(client, code: link.code).status == .ok)
            clock.advance(1)
            let again = try await signIn(client, code: link.code)
            #expect(again.status == .badRequest)
            #expect(try again.jsonObject()["detail"] as? String == "this sign-in link was already used; a link works once")
        }
    }

    @Test func anAccountWhoseTokensMustBeBoundGetsNoConsoleToken() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let link = try await harness.tessera.consoleSignIn.link(clientID: admin.clientID, actor: "cli")
        let account = try #require(try await harness.tessera.storage.credentials(clientID: admin.clientID)?.account)
        let tenant = try #require(try await harness.tessera.storage.tenant(id: account.tenantID))
        _ = try await harness.tessera.accounts.update(account.id, in: tenant, ServiceAccountPatch(dpopRequired: true), by: .bootstrap)
        try await harness.run { client in
            let refused = try await signIn(client, code: link.code)
            #expect(refused.status == .badRequest)
            #expect(
                try refused.jsonObject()["detail"] as? String
                    == "the account of this sign-in link requires DPoP-bound or certificate-bound tokens, which the console cannot use")
        }
    }

    @Test func aLinkStopsWorkingWhenItExpires() async throws {
        let clock = TestClock()
        let harness = try await ServerHarness(clock: clock)
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let link = try await harness.tessera.consoleSignIn.link(clientID: admin.clientID, lifetime: 60, actor: "cli")
        #expect(link.expiresAt == clock.now.addingTimeInterval(60))
        clock.advance(60)
        try await harness.run { client in
            let late = try await signIn(client, code: link.code)
            #expect(late.status == .badRequest)
            #expect(try late.jsonObject()["detail"] as? String == "this sign-in link has expired; ask for a new one")
        }
        #expect(try await refusedSignIns(harness) == ["this sign-in link has expired; ask for a new one"])
    }

    @Test func forgedTamperedAndMalformedCodesAreRefusedWithoutACrash() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let link = try await harness.tessera.consoleSignIn.link(clientID: admin.clientID, actor: "cli")
        // The same account's link sealed under another master key.
        let other = Tessera(issuer: ServerHarness.issuer, storage: harness.storage, masterKey: .generate())
        let forged = try await other.consoleSignIn.link(clientID: admin.clientID, actor: "cli")
        // And one sealed under this master key for another issuer (a staging copy sharing the key).
        let staging = Tessera(issuer: "http://staging.tessera.test", storage: harness.storage, masterKey: harness.masterKey)
        let elsewhere = try await staging.consoleSignIn.link(clientID: admin.clientID, actor: "cli")
        var tampered = Array(link.code.utf8)
        tampered[20] = tampered[20] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let tamperedCode = String(decoding: tampered, as: UTF8.self)
        try await harness.run { client in
            for code in [forged.code, elsewhere.code, tamperedCode, "tsl_", "tsl_!!!", "abc", String(repeating: "A", count: 5000)] {
                let response = try await signIn(client, code: code)
                #expect(response.status == .badRequest, "\(code.prefix(30))")
                #expect(try response.jsonObject()["detail"] as? String == "this is not a sign-in link of this server")
            }
            for body in ["", "{}", #"{"code":1}"#, #"{"code":"a","extra":1}"#, "[", #"{"code":"a","code":"b"}"#] {
                let response = try await client.execute(
                    uri: "/console/sign-in", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
                #expect(response.status == .badRequest, "\(body)")
            }
            let wrongType = try await client.execute(
                uri: "/console/sign-in", method: .post, headers: [.contentType: "text/plain"], body: ByteBuffer(string: #"{"code":"x"}"#))
            #expect(wrongType.status == .unsupportedMediaType)
            // The genuine link still works: refusals spent nothing.
            #expect(try await signIn(client, code: link.code).status == .ok)
            // Codes that are not this server's name no account, so they are logged, not audited.
            #expect(try await refusedSignIns(harness).isEmpty)
            #expect(try await signIn(client, code: link.code).status == .badRequest)
        }
        #expect(try await refusedSignIns(harness) == ["this sign-in link was already used; a link works once"])
    }

    @Test func authorityIsCheckedWhenTheLinkIsUsedNotOnlyWhenMade() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let other = try await harness.credentials(role: "admin")
        let member = try await harness.credentials(role: "member")
        await #expect(throws: ConsoleSignIn.Refused.self) {
            _ = try await harness.tessera.consoleSignIn.link(clientID: member.clientID, actor: "cli")
        }
        let demoted = try await harness.tessera.consoleSignIn.link(clientID: other.clientID, actor: "cli")
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let patch = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(other.serviceAccountID)", token: token, json: #"{"roles":["member"]}"#)
            #expect(patch.status == .ok)
            let refused = try await signIn(client, code: demoted.code)
            #expect(refused.status == .badRequest)
            #expect(try refused.jsonObject()["detail"] as? String == "the account of this sign-in link is no longer an administrator")
        }
        let disabled = try await harness.tessera.consoleSignIn.link(clientID: admin.clientID, actor: "cli")
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let third = try await harness.credentials(role: "admin")
            let thirdToken = try await client.accessToken(third)
            let patch = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(admin.serviceAccountID)", token: thirdToken, json: #"{"status":"disabled"}"#)
            #expect(patch.status == .ok, "\(patch.text)")
            _ = token
            let refused = try await signIn(client, code: disabled.code)
            #expect(try refused.jsonObject()["detail"] as? String == "the account of this sign-in link is disabled or no longer exists")
        }
        #expect(
            try await refusedSignIns(harness) == [
                "the account of this sign-in link is disabled or no longer exists", "the account of this sign-in link is no longer an administrator",
            ])
    }

    @Test func signingKeysAreListedAndRotatedBySuperAdminsOnly() async throws {
        let harness = try await ServerHarness(jwksMaxAge: 60)
        defer { harness.cleanup() }
        let root = try await harness.credentials(tenant: "ops", role: "super_admin")
        let admin = try await harness.credentials()
        try await harness.run { client in
            let adminToken = try await client.accessToken(admin)
            #expect(try await client.call(.get, "/v1/signing-keys", token: adminToken).status == .forbidden)
            #expect(try await client.call(.post, "/v1/signing-keys/rotate", token: adminToken).status == .forbidden)

            let token = try await client.accessToken(root)
            let before = try await client.call(.get, "/v1/signing-keys", token: token)
            #expect(before.status == .ok)
            let keys = try before.items()
            #expect(keys.count == 1)
            let active = try #require(keys.first)
            #expect(active["state"] as? String == "active")
            #expect(active["alg"] as? String == "ES256")
            #expect(active["d"] == nil && !before.text.contains("sealed"))

            let rotated = try await client.call(.post, "/v1/signing-keys/rotate", token: token)
            #expect(rotated.status == .ok, "\(rotated.text)")
            let change = try rotated.jsonObject()
            #expect(change["result"] as? String == "scheduled")
            let kid = try #require(change["kid"] as? String)
            #expect(kid != active["kid"] as? String)
            let activatesAt = try #require(change["activates_at"] as? String)
            let scheduled = try #require(ISO8601.date(activatesAt))
            #expect(abs(scheduled.timeIntervalSinceNow - 70) < 5)

            // Published at once, signing later.
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get)
            #expect(jwks.text.contains(kid))
            let after = try await client.call(.get, "/v1/signing-keys", token: token)
            #expect(try after.items().map { $0["state"] as? String } == ["next", "active"])

            // Pressed again before it is due: nothing changes.
            let again = try await client.call(.post, "/v1/signing-keys/rotate", token: token)
            #expect(try again.jsonObject()["result"] as? String == "pending")
            #expect(try again.jsonObject()["kid"] as? String == kid)

            let events = try await client.call(.get, "/v1/tenants/ops/audit-events?action=signing_key.rotate", token: token)
            #expect(try events.items().map { $0["resource_id"] as? String } == [kid, kid])
        }
    }

    @Test func anAccountCanBeCreatedWithoutAFirstSecret() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let created = try await client.createAccount(tenant: "acme", token: token, body: #"{"name":"wizard","issue_secret":false}"#)
            #expect(created.status == .created)
            #expect(try created.jsonObject()["client_secret"] == nil)
            let id = try #require(try created.jsonObject()["id"] as? String)
            let secrets = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(id)/secrets", token: token)
            #expect(try secrets.items().isEmpty)
            let withSecret = try await client.createAccount(tenant: "acme", token: token, body: #"{"name":"classic","issue_secret":true}"#)
            #expect(try withSecret.jsonObject()["client_secret"] is String)
            let wrong = try await client.createAccount(tenant: "acme", token: token, body: #"{"name":"x","issue_secret":"no"}"#)
            #expect(wrong.status == .badRequest)
            #expect(try wrong.jsonObject()["field"] as? String == "issue_secret")
        }
    }
}
