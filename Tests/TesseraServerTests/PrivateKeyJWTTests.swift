import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

@Suite struct PrivateKeyJWTTests {
    static let assertionType = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"

    struct Setup {
        let clientID: String
        let accountID: String
        let key: SigningKey
        let adminToken: String
    }

    /// An account with one registered key, through the admin API.
    static func setup(_ harness: ServerHarness, _ client: some TestClientProtocol, algorithm: JWSAlgorithm = .es256) async throws -> Setup {
        let admin = try await harness.credentials()
        let token = try await client.accessToken(admin)
        let account = try await client.call(.post, "/v1/tenants/acme/service-accounts", token: token, json: #"{"name":"jwt-client","roles":["editor"]}"#)
            .jsonObject()
        let id = try #require(account["id"] as? String), clientID = try #require(account["client_id"] as? String)
        let key = try SigningKey.generate(algorithm)
        var jwk = key.publicJWK
        jwk.kid = "k1"
        jwk.alg = algorithm == .es256 || algorithm == .eddsa ? nil : algorithm.rawValue
        let body = String(decoding: try JSONEncoder().encode(["jwk": jwk]), as: UTF8.self)
        let registered = try await client.call(.post, "/v1/tenants/acme/service-accounts/\(id)/keys", token: token, json: body)
        #expect(registered.status == .created, "\(registered.text)")
        #expect(try registered.jsonObject()["kid"] as? String == "k1")
        return Setup(clientID: clientID, accountID: id, key: key, adminToken: token)
    }

    static func assertion(
        _ setup: Setup, iss: String? = nil, sub: String? = nil, aud: String = "http://tessera.test/oauth2/token",
        exp: Int64 = 120, jti: String = UUID().uuidString, kid: String = "k1", key: SigningKey? = nil
    ) throws -> String {
        let now = Int64(Date().timeIntervalSince1970)
        let claims: [String: Any] = [
            "iss": iss ?? setup.clientID, "sub": sub ?? setup.clientID, "aud": aud, "exp": now + exp, "iat": now, "jti": jti,
        ]
        let signer = key ?? setup.key
        let header = Base64URL.encode(#"{"alg":"\#(signer.algorithm.rawValue)","kid":"\#(kid)"}"#)
        let payload = Base64URL.encode(Array(try JSONSerialization.data(withJSONObject: claims)))
        let signature = try signer.sign(Array("\(header).\(payload)".utf8))
        return "\(header).\(payload).\(Base64URL.encode(signature))"
    }

    static func exchange(_ client: some TestClientProtocol, _ assertion: String, extra: String = "") async throws -> TestResponse {
        try await client.token("grant_type=client_credentials&client_assertion_type=\(assertionType)&client_assertion=\(assertion)\(extra)")
    }

    @Test(arguments: [JWSAlgorithm.es256, .eddsa, .rs256, .ps256])
    func signedAssertionObtainsAToken(_ algorithm: JWSAlgorithm) async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let setup = try await Self.setup(harness, client, algorithm: algorithm)
            let response = try await Self.exchange(client, try Self.assertion(setup), extra: "&client_id=\(setup.clientID)")
            #expect(response.status == .ok, "\(response.text)")
            #expect(try response.jsonObject()["scope"] as? String == "api:read api:write")
        }
    }

    @Test func issuerAsAudienceIsAccepted() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let setup = try await Self.setup(harness, client)
            #expect(try await Self.exchange(client, try Self.assertion(setup, aud: "http://tessera.test")).status == .ok)
        }
    }

    @Test func everyBrokenRuleIsInvalidClient() async throws {
        // Without the throttle, which would lock this client out after five failures.
        let harness = try await ServerHarness(throttle: nil)
        defer { harness.cleanup() }
        try await harness.run { client in
            let setup = try await Self.setup(harness, client)
            let stranger = try SigningKey.generate(.es256)
            let cases: [(String, String)] = [
                (try Self.assertion(setup, aud: "https://elsewhere.example/token"), "aud of the client assertion must be the token endpoint or the issuer"),
                (try Self.assertion(setup, exp: 3600 + 40), "the client assertion is refused: exp is more than 3600 s ahead"),
                (try Self.assertion(setup, exp: -40), "the client assertion is refused: the token has expired"),
                // iss ≠ sub is another issuer's token, which no federated credential trusts (docs/federation.md).
                (try Self.assertion(setup, sub: "tsc_other"), "client_id is required with another issuer's token as client assertion"),
                (try Self.assertion(setup, key: stranger), "the client assertion's signature does not verify"),
                (try Self.assertion(setup, kid: "k2"), "no registered key matches the client assertion"),
                ("not.a.jwt", "the client assertion is malformed"),
            ]
            for (assertion, description) in cases {
                let response = try await Self.exchange(client, assertion)
                #expect(response.status == .unauthorized, "\(description)")
                #expect(try response.jsonObject()["error_description"] as? String == description)
            }
            // The header may not pick another algorithm than the key's.
            let parts = try Self.assertion(setup).split(separator: ".")
            let relabelled = Base64URL.encode(#"{"alg":"ES384","kid":"k1"}"#) + ".\(parts[1]).\(parts[2])"
            #expect(try await Self.exchange(client, relabelled).status == .unauthorized)
        }
    }

    /// The payload of an assertion as raw JSON text, so that numbers JSONSerialization
    /// cannot write (2^63, 1e300) reach the server as an attacker would send them.
    static func rawAssertion(_ setup: Setup, times: String, key: SigningKey? = nil) throws -> String {
        let signer = key ?? setup.key
        let header = Base64URL.encode(#"{"alg":"\#(signer.algorithm.rawValue)","kid":"k1"}"#)
        let json = #"{"iss":"\#(setup.clientID)","sub":"\#(setup.clientID)","aud":"http://tessera.test/oauth2/token","jti":"\#(UUID().uuidString)",\#(times)}"#
        let payload = Base64URL.encode(Array(json.utf8))
        return "\(header).\(payload).\(Base64URL.encode(try signer.sign(Array("\(header).\(payload)".utf8))))"
    }

    /// A registered key lets its holder sign any claims: the server must survive
    /// every time value, answer invalid_client, and keep serving (an exp near
    /// Int64.max once trapped in `exp + leeway` after the signature verified).
    @Test func extremeTimeClaimsAreInvalidClientAndNeverTrap() async throws {
        let harness = try await ServerHarness(throttle: nil)
        defer { harness.cleanup() }
        try await harness.run { client in
            let setup = try await Self.setup(harness, client)
            let now = Int64(Date().timeIntervalSince1970)
            let outOfRange = "the client assertion is refused: exp is not a NumericDate from 1970 to 9999"
            let cases: [(String, String)] = [
                (#""exp":9223372036854775807"#, outOfRange),
                (#""exp":9223372036854775808"#, outOfRange),
                (#""exp":-9223372036854775808"#, outOfRange),
                (#""exp":1e300"#, outOfRange),
                (#""exp":1.5"#, outOfRange),
                (#""exp":"\#(now + 60)""#, outOfRange),
                (#""exp":253402300800"#, outOfRange),
                (#""exp":\#(now + 60),"iat":9223372036854775807"#, "the client assertion is refused: iat is not a NumericDate from 1970 to 9999"),
                (#""exp":\#(now + 60),"nbf":-9223372036854775808"#, "the client assertion is refused: nbf is not a NumericDate from 1970 to 9999"),
                (#""exp":\#(now + 60),"nbf":\#(now + 600)"#, "the client assertion is refused: the token is not valid yet"),
                (#""exp":\#(now + 60),"iat":\#(now + 600)"#, "the client assertion is refused: the token was issued in the future"),
                (#""exp":253402300799"#, "the client assertion is refused: exp is more than 3600 s ahead"),
            ]
            for (times, description) in cases {
                let response = try await Self.exchange(client, try Self.rawAssertion(setup, times: times))
                #expect(response.status == .unauthorized, "\(times)")
                #expect(try response.jsonObject()["error"] as? String == "invalid_client", "\(times)")
                #expect(try response.jsonObject()["error_description"] as? String == description, "\(times)")
            }
            // Still serving, and a good assertion still works.
            #expect(try await Self.exchange(client, try Self.assertion(setup)).status == .ok)
        }
    }

    /// Authlib's `PrivateKeyJWT` and other common clients sign assertions that
    /// live an hour by default: that is accepted, and the limit is configurable.
    @Test func anHourLongAssertionIsAcceptedUnlessConfiguredShorter() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let setup = try await Self.setup(harness, client)
            #expect(try await Self.exchange(client, try Self.assertion(setup, exp: 3600)).status == .ok)
        }
        let strict = try await ServerHarness(maximumAssertionLifetime: 300)
        defer { strict.cleanup() }
        try await strict.run { client in
            let setup = try await Self.setup(strict, client)
            let refused = try await Self.exchange(client, try Self.assertion(setup, exp: 3600))
            #expect(refused.status == .unauthorized)
            #expect(try refused.jsonObject()["error_description"] as? String == "the client assertion is refused: exp is more than 300 s ahead")
            #expect(try await Self.exchange(client, try Self.assertion(setup, exp: 300)).status == .ok)
        }
    }

    /// An RS256 key signs PS256 too; the registered key fixes the algorithm, so a
    /// PS256 signature under the RS256 key's header is not accepted, nor the reverse.
    @Test(arguments: [(JWSAlgorithm.rs256, JWSAlgorithm.ps256), (.ps256, .rs256)])
    func anRSAKeyOnlyVerifiesItsOwnAlgorithm(_ registered: JWSAlgorithm, _ used: JWSAlgorithm) async throws {
        let harness = try await ServerHarness(throttle: nil)
        defer { harness.cleanup() }
        try await harness.run { client in
            let setup = try await Self.setup(harness, client, algorithm: registered)
            let other = try SigningKey(algorithm: used, privateKeyBytes: setup.key.privateKeyBytes)
            let now = Int64(Date().timeIntervalSince1970)
            let response = try await Self.exchange(client, try Self.rawAssertion(setup, times: #""exp":\#(now + 60)"#, key: other))
            #expect(response.status == .unauthorized)
            #expect(try response.jsonObject()["error_description"] as? String == "the client assertion's signature does not verify")
            #expect(try await Self.exchange(client, try Self.rawAssertion(setup, times: #""exp":\#(now + 60)"#)).status == .ok)
        }
    }

    @Test func aReplayedAssertionIsRefused() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let setup = try await Self.setup(harness, client)
            let assertion = try Self.assertion(setup, jti: "once")
            #expect(try await Self.exchange(client, assertion).status == .ok)
            let replay = try await Self.exchange(client, assertion)
            #expect(replay.status == .unauthorized)
            #expect(try replay.jsonObject()["error_description"] as? String == "the client assertion was used before")
        }
    }

    @Test func mixingMethodsOrMismatchedClientIDIsRefused() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let setup = try await Self.setup(harness, client)
            let withSecret = try await Self.exchange(client, try Self.assertion(setup), extra: "&client_secret=x")
            #expect(withSecret.status == .badRequest)
            #expect(try withSecret.jsonObject()["error"] as? String == "invalid_request")
            let wrongType = try await client.token("grant_type=client_credentials&client_assertion_type=saml&client_assertion=x")
            #expect(wrongType.status == .badRequest)
            let mismatch = try await Self.exchange(client, try Self.assertion(setup), extra: "&client_id=tsc_someone_else")
            #expect(mismatch.status == .unauthorized)
        }
    }

    @Test func deletedOrExpiredKeysStopWorking() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let setup = try await Self.setup(harness, client)
            let keys = "/v1/tenants/acme/service-accounts/\(setup.accountID)/keys"
            let listed = try await client.call(.get, keys, token: setup.adminToken)
            #expect(try listed.items().compactMap { $0["kid"] as? String } == ["k1"])
            #expect(try (listed.items().first?["jwk"] as? [String: Any])?["alg"] as? String == "ES256")
            #expect(try await client.call(.delete, "\(keys)/k1", token: setup.adminToken).status == .noContent)
            #expect(try await Self.exchange(client, try Self.assertion(setup)).status == .unauthorized)
            #expect(try await client.call(.delete, "\(keys)/k1", token: setup.adminToken).status == .notFound)
        }
    }

    @Test func badKeysAreRefusedWhenRegistered() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let setup = try await Self.setup(harness, client)
            let keys = "/v1/tenants/acme/service-accounts/\(setup.accountID)/keys"
            var privateJWK = setup.key.publicJWK
            privateJWK.kid = "p"
            privateJWK.d = "AAAA"
            var rsaWithoutAlg = try SigningKey.generate(.rs256).publicJWK
            rsaWithoutAlg.alg = nil
            var withoutKid = setup.key.publicJWK
            withoutKid.kid = nil
            for (jwk, status) in [(privateJWK, HTTPResponse.Status.badRequest), (rsaWithoutAlg, .badRequest), (withoutKid, .badRequest)] {
                let body = String(decoding: try JSONEncoder().encode(["jwk": jwk]), as: UTF8.self)
                let response = try await client.call(.post, keys, token: setup.adminToken, json: body)
                #expect(response.status == status)
                #expect(try response.jsonObject()["field"] as? String == "jwk")
            }
            var duplicate = setup.key.publicJWK
            duplicate.kid = "k1"
            let body = String(decoding: try JSONEncoder().encode(["jwk": duplicate]), as: UTF8.self)
            #expect(try await client.call(.post, keys, token: setup.adminToken, json: body).status == .conflict)
            #expect(try await client.call(.post, keys, token: setup.adminToken, json: #"{"jwk":"x"}"#).status == .badRequest)
        }
    }
}
