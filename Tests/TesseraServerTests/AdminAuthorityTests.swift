import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

/// Who may use the admin API, the dialects and introspection: authority is the
/// account's as it is now (intersected with the token), a token must be meant for
/// this issuer's own API, and every token the issuer's key could sign is checked
/// under the one time policy.
@Suite struct AdminAuthorityTests {
    /// Both challenges (RFC 9449 §7.1), as HTTPFields joins the two fields.
    static let invalidToken =
        #"Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid or expired", DPoP algs="ES256 EdDSA RS256 PS256", error="invalid_token", error_description="the access token is invalid or expired""#

    /// A token with exactly these header and claims, signed with the issuer's
    /// active key (what only the issuer, or whoever stole its key, can make).
    static func signed(_ harness: ServerHarness, header: String? = nil, claims: String) throws -> String {
        let key = try #require(harness.tessera.keyRing.snapshot?.active)
        let headerJSON = header ?? #"{"alg":"\#(key.algorithm.rawValue)","kid":"\#(key.keyID)","typ":"at+jwt"}"#
        let input = Base64URL.encode(Array(headerJSON.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        return input + "." + Base64URL.encode(try key.sign(Array(input.utf8)))
    }

    /// The claims of a real admin token with some members replaced.
    static func claims(_ harness: ServerHarness, of token: String, replacing: [String: String]) throws -> String {
        let payload = try #require(Base64URL.decode(String(token.split(separator: ".")[1])))
        var object = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
        for name in replacing.keys { object[name] = nil }
        var json = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        json.removeLast()
        for (name, raw) in replacing.sorted(by: { $0.key < $1.key }) { json += #","\#(name)":\#(raw)"# }
        return json + "}"
    }

    @Test func aDemotedAdminsOldTokenNoLongerAdministers() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let root = try await harness.credentials()
        let demoted = try await harness.credentials(role: "admin")
        try await harness.run { client in
            let rootToken = try await client.accessToken(root)
            let oldToken = try await client.accessToken(demoted)
            let patched = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(demoted.serviceAccountID)", token: rootToken, json: #"{"roles":["consumer"]}"#
            )
            #expect(patched.status == .ok)
            let create = try await client.createAccount(tenant: "acme", token: oldToken, body: #"{"name":"smuggled","roles":["admin"]}"#)
            #expect(create.status == .forbidden)
            #expect(try create.jsonObject()["detail"] as? String == "the access token lacks the scope tessera:admin")
            let listed = try await client.call(.get, "/v1/tenants/acme/service-accounts?name_prefix=smuggled", token: rootToken)
            #expect(try listed.items().isEmpty)
            // What the token still may do is what the account's roles grant now.
            let whoami = try await client.call(.get, "/v1/whoami", token: oldToken)
            #expect(whoami.status == .ok)
            #expect(try whoami.jsonObject()["scopes"] as? [String] == ["api:read"])
            #expect(try whoami.jsonObject()["roles"] as? [String] == [])
            // Introspection reports the same narrowed authority.
            let introspected = try await client.form("/oauth2/introspect", "token=\(oldToken)", as: root)
            #expect(try introspected.jsonObject()["scope"] as? String == "api:read")
        }
    }

    @Test func aTokenForAnotherAudienceOpensNeitherTheAdminAPINorADialect() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let root = try await harness.credentials()
        try await harness.run { client in
            let rootToken = try await client.accessToken(root)
            let created = try await client.createAccount(
                tenant: "acme", token: rootToken, body: #"{"name":"orders-admin","roles":["admin"],"audiences":["https://orders.example"]}"#
            ).jsonObject()
            let id = try #require(created["client_id"] as? String), secret = try #require(created["client_secret"] as? String)
            let basic = (id, secret)
            let forOrders = try await client.token("grant_type=client_credentials&resource=https%3A%2F%2Forders.example", basic: basic)
            let ordersToken = try #require(try forOrders.jsonObject()["access_token"] as? String)
            for (method, uri) in [(HTTPRequest.Method.get, "/v1/whoami"), (.get, "/v1/tenants/acme/service-accounts")] {
                let response = try await client.call(method, uri, token: ordersToken)
                #expect(response.status == .unauthorized, "\(uri)")
                #expect(response.headers[.wwwAuthenticate] == Self.invalidToken)
            }
            let rezolve = try await client.execute(
                uri: "/api/v1/admin/service-account/create", method: .post,
                headers: [.authorization: "Bearer \(ordersToken)", .tenantID: "acme"]
            )
            #expect(rezolve.status == .unauthorized)
            // The same account's token for this issuer (the default, or asked for by name) works.
            let own = try await client.token("grant_type=client_credentials&resource=http%3A%2F%2Ftessera.test", basic: basic)
            let ownToken = try #require(try own.jsonObject()["access_token"] as? String)
            #expect(try await client.call(.get, "/v1/whoami", token: ownToken).status == .ok)
            // Introspection still answers for the orders token: it serves every audience.
            let introspected = try await client.form("/oauth2/introspect", "token=\(ordersToken)", as: root)
            #expect(try introspected.jsonObject()["active"] as? Bool == true)
            #expect(try introspected.jsonObject()["aud"] as? [String] == ["https://orders.example"])
        }
    }

    /// A tenant whose tokens default to another audience can still reach the
    /// admin API by asking for the issuer as the resource.
    @Test func anAdminOfATenantWithAnotherDefaultAudienceAsksForTheIssuer() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let tenant = try #require(try await harness.tessera.tenants.find("acme"))
        _ = try await harness.tessera.tenants.update(tenant, TenantPatch(defaultAudience: .some("https://api.acme.example")))
        try await harness.run { client in
            let defaulted = try await client.accessToken(admin)
            #expect(try await client.call(.get, "/v1/whoami", token: defaulted).status == .unauthorized)
            let asked = try await client.token(
                "grant_type=client_credentials&resource=http%3A%2F%2Ftessera.test", basic: (admin.clientID, admin.clientSecret)
            )
            #expect(asked.status == .ok)
            let token = try #require(try asked.jsonObject()["access_token"] as? String)
            #expect(try await client.call(.get, "/v1/whoami", token: token).status == .ok)
        }
    }

    /// Tokens only the issuer's key can sign, each wrong in one way, sent to the
    /// admin API (401) and to introspection (inactive); none may crash the server.
    @Test func tokensWrongInOneWayAreRefusedByTheAdminAPIAndIntrospection() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let real = try await client.accessToken(admin)
            let key = try #require(harness.tessera.keyRing.snapshot?.active)
            let now = Int64(Date().timeIntervalSince1970)
            func claims(_ replacing: [String: String]) throws -> String { try Self.claims(harness, of: real, replacing: replacing) }
            let parts = real.split(separator: ".").map(String.init)
            let refused: [(String, String)] = [
                ("expired", try Self.signed(harness, claims: try claims(["exp": "\(now - 31)"]))),
                ("not yet valid", try Self.signed(harness, claims: try claims(["nbf": "\(now + 600)"]))),
                ("issued in the future", try Self.signed(harness, claims: try claims(["iat": "\(now + 600)"]))),
                ("exp Int64.max", try Self.signed(harness, claims: try claims(["exp": "9223372036854775807"]))),
                ("exp 2^63", try Self.signed(harness, claims: try claims(["exp": "9223372036854775808"]))),
                ("iat Int64.min", try Self.signed(harness, claims: try claims(["iat": "-9223372036854775808"]))),
                ("nbf a fraction", try Self.signed(harness, claims: try claims(["nbf": "1.5"]))),
                ("typ JWT", try Self.signed(harness, header: #"{"alg":"ES256","kid":"\#(key.keyID)","typ":"JWT"}"#, claims: try claims([:]))),
                ("no typ", try Self.signed(harness, header: #"{"alg":"ES256","kid":"\#(key.keyID)"}"#, claims: try claims([:]))),
                ("alg none", Base64URL.encode(#"{"alg":"none","typ":"at+jwt"}"#) + ".\(parts[1])."),
                ("relabelled ES384", Base64URL.encode(#"{"alg":"ES384","kid":"\#(key.keyID)","typ":"at+jwt"}"#) + ".\(parts[1]).\(parts[2])"),
                ("other issuer", try Self.signed(harness, claims: try claims(["iss": #""http://elsewhere.test""#]))),
            ]
            for (name, token) in refused {
                let response = try await client.call(.get, "/v1/whoami", token: token)
                #expect(response.status == .unauthorized, "\(name)")
                #expect(response.headers[.wwwAuthenticate] == Self.invalidToken, "\(name)")
                let introspected = try await client.form("/oauth2/introspect", "token=\(token)", as: admin)
                #expect(introspected.text == #"{"active":false}"#, "\(name)")
            }
            // The full media type is the same type (RFC 9068 §2.1), as the verifier holds.
            let longType = try Self.signed(
                harness, header: #"{"alg":"ES256","kid":"\#(key.keyID)","typ":"application/at+jwt"}"#, claims: try claims([:])
            )
            #expect(try await client.call(.get, "/v1/whoami", token: longType).status == .ok)
            #expect(try await client.call(.get, "/v1/whoami", token: real).status == .ok)
        }
    }

    @Test func aDisabledAdminIsRefusedAtOnceEvenWithItsTokensCached() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let root = try await harness.credentials()
        let other = try await harness.credentials(role: "admin")
        try await harness.run { client in
            let rootToken = try await client.accessToken(root)
            let otherToken = try await client.accessToken(other)
            #expect(try await client.call(.get, "/v1/whoami", token: otherToken).status == .ok)
            let patched = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(other.serviceAccountID)", token: rootToken, json: #"{"status":"disabled"}"#
            )
            #expect(patched.status == .ok)
            #expect(try await client.call(.get, "/v1/whoami", token: otherToken).status == .unauthorized)
            let refused = try await client.token("grant_type=client_credentials", basic: (other.clientID, other.clientSecret))
            #expect(refused.status == .unauthorized)
            #expect(try refused.jsonObject()["error"] as? String == "invalid_client")
        }
    }
}
