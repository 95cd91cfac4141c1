import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

@Suite struct DiscoveryTests {
    @Test func metadataHasAbsoluteURLsAndTheAliasMatches() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let response = try await client.execute(uri: "/.well-known/oauth-authorization-server", method: .get)
            #expect(response.status == .ok)
            let body = try response.jsonObject()
            #expect(body["issuer"] as? String == "http://tessera.test")
            #expect(body["token_endpoint"] as? String == "http://tessera.test/oauth2/token")
            #expect(body["jwks_uri"] as? String == "http://tessera.test/.well-known/jwks.json")
            #expect(body["grant_types_supported"] as? [String] == ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"])
            #expect(
                body["token_exchange_subject_token_types_supported"] as? [String] == [
                    "urn:ietf:params:oauth:token-type:access_token", "urn:ietf:params:oauth:token-type:id_token",
                    "urn:ietf:params:oauth:token-type:jwt",
                ])
            #expect(body["token_endpoint_auth_methods_supported"] as? [String] == ["client_secret_basic", "client_secret_post", "private_key_jwt"])
            #expect(body["token_endpoint_auth_signing_alg_values_supported"] as? [String] == ["ES256", "EdDSA", "RS256", "PS256"])
            #expect(body["access_token_signing_alg_values_supported"] as? [String] == ["ES256"])
            #expect((body["scopes_supported"] as? [String])?.contains("tessera:admin") == true)
            let alias = try await client.execute(uri: "/.well-known/openid-configuration", method: .get)
            #expect(alias.status == .ok)
            #expect(alias.text == response.text)
        }
    }

    @Test func jwksPublishesThePublicSigningKeyWithMaxAge() async throws {
        let harness = try await ServerHarness(jwksMaxAge: 120)
        defer { harness.cleanup() }
        let active = try #require(harness.tessera.keyRing.snapshot?.active)
        try await harness.run { client in
            let response = try await client.execute(uri: "/.well-known/jwks.json", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "public, max-age=120")
            #expect(response.headers[.contentType] == "application/jwk-set+json")
            let set = try JSONDecoder().decode(JWKSet.self, from: Data(response.body.readableBytesView))
            #expect(set.keys == [active.publicJWK])
            #expect(set.keys.allSatisfy { !$0.isPrivate })
            #expect(!response.text.contains("\"d\""))

            // HEAD: the same status and headers, no body (RFC 9110 §9.3.2).
            let head = try await client.execute(uri: "/.well-known/jwks.json", method: .head)
            #expect(head.status == .ok)
            #expect(head.headers[.contentType] == "application/jwk-set+json")
            #expect(head.headers[.cacheControl] == "public, max-age=120")
            #expect(head.body.readableBytes == 0)
        }
    }

    @Test func healthAndRequestIDs() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let alive = try await client.execute(uri: "/health/alive", method: .get)
            #expect(alive.status == .ok)
            let ready = try await client.execute(uri: "/health/ready", method: .get)
            #expect(ready.status == .ok)
            #expect(try ready.jsonObject()["checks"] as? [String: String] == ["store": "ok", "signing_key": "ok"])

            let echoed = try await client.execute(uri: "/health/alive", method: .get, headers: [.requestID: "abc-123_x.y"])
            #expect(echoed.headers[.requestID] == "abc-123_x.y")
            let unsafe = try await client.execute(uri: "/health/alive", method: .get, headers: [.requestID: "evil\"value"])
            let generated = try #require(unsafe.headers[.requestID])
            #expect(generated != "evil\"value")
            #expect(generated.count == 26)
        }
    }

    @Test func unknownRouteIsAProblem404() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let response = try await client.execute(uri: "/nope", method: .get)
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType] == "application/problem+json")
        }
    }
}
