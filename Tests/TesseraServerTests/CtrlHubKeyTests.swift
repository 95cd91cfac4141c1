import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

/// Ctrl Hub's key object is `{id, client_secret, enabled, created_at}` and its
/// OAuth 2 scheme is client credentials: a client takes the key's `id` as its
/// client id.
@Suite struct CtrlHubKeyTests {
    @Test func aKeysIDWithItsSecretObtainsATokenByBasicAndByPost() async throws {
        let harness = try await ServerHarness(throttle: nil)
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let created = try await CtrlHubDialectTests.create(
                client, org: "acme", token: token, body: #"{"data":{"type":"service-accounts","attributes":{"name":"keyed"}}}"#
            )
            let data = try #require(try created.jsonObject()["data"] as? [String: Any])
            let key = try #require(((data["attributes"] as? [String: Any])?["keys"] as? [[String: Any]])?.first)
            let keyID = try #require(key["id"] as? String), secret = try #require(key["client_secret"] as? String)
            let clientID = try #require(key["client_id"] as? String)

            let basic = try await client.token("grant_type=client_credentials", basic: (keyID, secret))
            #expect(basic.status == .ok, "\(basic.text)")
            let accessToken = try #require(try basic.jsonObject()["access_token"] as? String)
            // The token names the account's client id, whichever id authenticated.
            let claims = try #require(Base64URL.decode(String(accessToken.split(separator: ".")[1])))
            #expect((try JSONSerialization.jsonObject(with: Data(claims)) as? [String: Any])?["client_id"] as? String == clientID)
            let post = try await client.token("grant_type=client_credentials&client_id=\(keyID)&client_secret=\(secret)")
            #expect(post.status == .ok)
            #expect(try await client.token("grant_type=client_credentials", basic: (keyID.uppercased(), secret)).status == .ok)

            // Another secret of the account does not pass under this key's id.
            let accountID = try #require(data["id"] as? String)
            let second = try await client.call(
                .post, "/v1/tenants/acme/service-accounts/\(accountID)/secrets", token: token, json: #"{"name":"second"}"#
            ).jsonObject()
            let secondSecret = try #require(second["client_secret"] as? String), secondID = try #require(second["id"] as? String)
            let crossed = try await client.token("grant_type=client_credentials", basic: (keyID, secondSecret))
            #expect(crossed.status == .unauthorized)
            #expect(try crossed.jsonObject()["error"] as? String == "invalid_client")
            #expect(try await client.token("grant_type=client_credentials", basic: (secondID, secondSecret)).status == .ok)
            // An unknown id, and a disabled key, are refused like any bad credentials.
            #expect(try await client.token("grant_type=client_credentials", basic: (UUID().uuidString, secret)).status == .unauthorized)
            let disabled = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(accountID)/secrets/\(keyID)", token: token, json: #"{"enabled":false}"#
            )
            #expect(disabled.status == .ok)
            let refused = try await client.token("grant_type=client_credentials", basic: (keyID, secret))
            #expect(refused.status == .unauthorized)
            #expect(try refused.jsonObject()["error"] as? String == "invalid_client")
        }
    }
}
