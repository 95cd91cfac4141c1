import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import TesseraTestSupport
import Testing

@testable import TesseraServer

/// Secrets and registered keys with an `expires_at` work until that instant and
/// not from it on: an expired secret gets `invalid_client`, as a disabled or
/// deleted one does. Time is a test clock moved by hand, not slept.
@Suite struct ExpiryTests {
    /// RFC 3339 in UTC without fractions, as the admin API takes and shows dates.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static let invalidClient = #"{"error":"invalid_client","error_description":"client authentication failed"}"#

    @Test func aSecretStopsWorkingAtItsExpiry() async throws {
        let clock = TestClock()
        let harness = try await ServerHarness(clock: clock)
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let account = try await AdminLifecycleTests.create(client, token, #"{"name":"rotating","roles":["analyst"]}"#)
            let id = try #require(account["id"] as? String), clientID = try #require(account["client_id"] as? String)
            let lasting = try #require(account["client_secret"] as? String)
            let expiry = clock.now.addingTimeInterval(60)
            let created = try await client.call(
                .post, "/v1/tenants/acme/service-accounts/\(id)/secrets", token: token,
                json: #"{"name":"short","expires_at":"\#(Self.timestamp(expiry))"}"#
            )
            #expect(created.status == .created, "\(created.text)")
            #expect(try created.jsonObject()["expires_at"] as? String == Self.timestamp(expiry))
            let short = try #require(try created.jsonObject()["client_secret"] as? String)

            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, short)).status == .ok)
            clock.advance(59)
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, short)).status == .ok)
            clock.advance(1)
            // At expires_at the secret is expired.
            let refused = try await client.token("grant_type=client_credentials", basic: (clientID, short))
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[.wwwAuthenticate] == #"Basic realm="tessera", charset="UTF-8""#)
            #expect(try refused.canonicalJSON() == canonicalJSON(Self.invalidClient))
            let posted = try await client.token("grant_type=client_credentials&client_id=\(clientID)&client_secret=\(short)")
            #expect(posted.status == .unauthorized)
            #expect(try posted.canonicalJSON() == canonicalJSON(Self.invalidClient))
            // The account and its secret without an expiry work on.
            #expect(try await client.token("grant_type=client_credentials", basic: (clientID, lasting)).status == .ok)
            // The expired secret is still listed, as it was created.
            let listed = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(id)/secrets", token: token).items()
            let entry = try #require(listed.first { $0["name"] as? String == "short" })
            #expect(entry["expires_at"] as? String == Self.timestamp(expiry))
            #expect(entry["enabled"] as? Bool == true)
        }
    }

    /// An assertion for `clientID` signed with `key` under `kid`, its times from the test clock.
    static func assertion(clientID: String, key: SigningKey, kid: String, now: Date) throws -> String {
        let seconds = Int64(now.timeIntervalSince1970)
        let claims: [String: Any] = [
            "iss": clientID, "sub": clientID, "aud": "http://tessera.test/oauth2/token",
            "iat": seconds, "exp": seconds + 60, "jti": UUID().uuidString,
        ]
        let header = Base64URL.encode(#"{"alg":"ES256","kid":"\#(kid)"}"#)
        let payload = Base64URL.encode(Array(try JSONSerialization.data(withJSONObject: claims)))
        return "\(header).\(payload).\(Base64URL.encode(try key.sign(Array("\(header).\(payload)".utf8))))"
    }

    @Test func aRegisteredKeyStopsWorkingForPrivateKeyJWTAtItsExpiry() async throws {
        let clock = TestClock()
        let harness = try await ServerHarness(throttle: nil, clock: clock)
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let account = try await AdminLifecycleTests.create(client, token, #"{"name":"jwt-client","roles":["editor"]}"#)
            let id = try #require(account["id"] as? String), clientID = try #require(account["client_id"] as? String)
            let keys = "/v1/tenants/acme/service-accounts/\(id)/keys"
            let expiring = try SigningKey.generate(.es256), lasting = try SigningKey.generate(.es256)
            let expiry = clock.now.addingTimeInterval(60)
            for (kid, key, expiresAt) in [("short", expiring, Optional(expiry)), ("long", lasting, nil)] {
                var jwk = key.publicJWK
                jwk.kid = kid
                let jwkJSON = String(decoding: try JSONEncoder().encode(jwk), as: UTF8.self)
                let body = expiresAt.map { #"{"jwk":\#(jwkJSON),"expires_at":"\#(Self.timestamp($0))"}"# } ?? #"{"jwk":\#(jwkJSON)}"#
                let registered = try await client.call(.post, keys, token: token, json: body)
                #expect(registered.status == .created, "\(registered.text)")
                #expect(try registered.jsonObject()["expires_at"] as? String == expiresAt.map(Self.timestamp))
            }
            func exchange(_ kid: String, _ key: SigningKey) async throws -> TestResponse {
                let assertion = try Self.assertion(clientID: clientID, key: key, kid: kid, now: clock.now)
                return try await PrivateKeyJWTTests.exchange(client, assertion)
            }
            #expect(try await exchange("short", expiring).status == .ok)
            clock.advance(59)
            #expect(try await exchange("short", expiring).status == .ok)
            clock.advance(1)
            let refused = try await exchange("short", expiring)
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[.wwwAuthenticate] == #"Basic realm="tessera", charset="UTF-8""#)
            #expect(
                try refused.canonicalJSON()
                    == canonicalJSON(
                        #"{"error":"invalid_client","error_description":"no registered key matches the client assertion"}"#
                    ))
            // The account's other key, without an expiry, still authenticates it.
            let other = try await exchange("long", lasting)
            #expect(other.status == .ok)
            #expect(try other.jsonObject()["scope"] as? String == "api:read api:write")
        }
    }
}
