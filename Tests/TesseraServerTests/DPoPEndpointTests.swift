import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

/// DPoP at the token endpoint and on the admin API, in process (docs/binding.md).
@Suite struct DPoPEndpointTests {
    static func proof(
        _ key: SigningKey, _ method: String = "POST", _ path: String = "/oauth2/token", token: String? = nil, nonce: String? = nil
    ) throws
        -> String
    {
        try DPoPProof.sign(
            with: key, method: method, url: ServerHarness.issuer + path, iat: Int64(Date().timeIntervalSince1970), jti: UUID().uuidString,
            accessToken: token, nonce: nonce)
    }

    @Test func aProofBindsTheTokenWhichTheAdminAPIThenTakesOnlyWithAProof() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let key = try SigningKey.generate(.es256)
        try await harness.run { client in
            let basic = "Basic " + Data("\(admin.clientID):\(admin.clientSecret)".utf8).base64EncodedString()
            let first = try Self.proof(key)
            let issued = try await client.execute(
                uri: "/oauth2/token", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .authorization: basic, .dpop: first],
                body: ByteBuffer(string: "grant_type=client_credentials"))
            #expect(issued.status == .ok)
            let body = try issued.jsonObject()
            #expect(body["token_type"] as? String == "DPoP")
            let token = try #require(body["access_token"] as? String)
            let claims = try AccessTokenClaims(json: try CompactJWS(token).payload)
            #expect(claims.cnf == Confirmation(jkt: try key.publicJWK.thumbprint()))

            // The same proof again is a replay.
            let replayed = try await client.execute(
                uri: "/oauth2/token", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .authorization: basic, .dpop: first],
                body: ByteBuffer(string: "grant_type=client_credentials"))
            #expect(replayed.status == .badRequest)
            #expect(try replayed.jsonObject()["error"] as? String == "invalid_dpop_proof")

            // Bearer: refused. DPoP with a proof for this request: accepted, once.
            #expect(try await client.call(.get, "/v1/whoami", token: token).status == .unauthorized)
            let proof = try Self.proof(key, "GET", "/v1/whoami", token: token)
            let whoami = try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "DPoP \(token)", .dpop: proof])
            #expect(whoami.status == .ok)
            let again = try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "DPoP \(token)", .dpop: proof])
            #expect(again.status == .unauthorized)
            #expect(again.headers[.wwwAuthenticate]?.contains(#"error="invalid_dpop_proof""#) == true)
            // Another key's proof: the token is not bound to it.
            let other = try Self.proof(try SigningKey.generate(.es256), "GET", "/v1/whoami", token: token)
            let stolen = try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "DPoP \(token)", .dpop: other])
            #expect(stolen.status == .unauthorized)
            #expect(stolen.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)

            // A bound token cannot be laundered into an unbound one by token exchange.
            let exchanged = try await client.token(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=\(token)"
                    + "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token")
            #expect(exchanged.status == .badRequest)
            #expect(try exchanged.jsonObject()["error"] as? String == "invalid_grant")

            // Introspection shows the binding for the resource server to check.
            let introspected = try await client.execute(
                uri: "/oauth2/introspect", method: .post, headers: [.contentType: "application/x-www-form-urlencoded", .authorization: basic],
                body: ByteBuffer(string: "token=\(token)"))
            let answer = try introspected.jsonObject()
            #expect(answer["active"] as? Bool == true)
            #expect(answer["token_type"] as? String == "DPoP")
            #expect((answer["cnf"] as? [String: Any])?["jkt"] as? String == (try key.publicJWK.thumbprint()))
        }
    }

    @Test func anAccountThatRequiresDPoPIsRefusedWithoutAProof() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let adminToken = try await client.accessToken(admin)
            let created = try await client.createAccount(tenant: "acme", token: adminToken, body: #"{"name":"dpop-only","dpop_bound_access_tokens":true}"#)
            #expect(created.status == .created)
            let account = try created.jsonObject()
            #expect(account["dpop_bound_access_tokens"] as? Bool == true)
            #expect(account["tls_client_certificate_bound_access_tokens"] as? Bool == false)
            let id = try #require(account["client_id"] as? String), secret = try #require(account["client_secret"] as? String)
            let refused = try await client.token("grant_type=client_credentials", basic: (id, secret))
            #expect(refused.status == .badRequest)
            #expect(try refused.jsonObject()["error"] as? String == "invalid_dpop_proof")
            let basic = "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
            let accepted = try await client.execute(
                uri: "/oauth2/token", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .authorization: basic, .dpop: try Self.proof(try SigningKey.generate(.eddsa))],
                body: ByteBuffer(string: "grant_type=client_credentials"))
            #expect(accepted.status == .ok)
            // A certificate-bound account asking without a certificate.
            let patched = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(try #require(account["id"] as? String))", token: adminToken,
                json: #"{"dpop_bound_access_tokens":false,"tls_client_certificate_bound_access_tokens":true,"tls_client_auth_san_ip":"10.0.0.1"}"#)
            #expect(patched.status == .ok)
            let binding = try patched.jsonObject()
            #expect(binding["tls_client_auth_san_ip"] as? String == "10.0.0.1")
            #expect(binding["tls_client_auth_subject_dn"] is NSNull)
            let noCertificate = try await client.token("grant_type=client_credentials", basic: (id, secret))
            #expect(noCertificate.status == .badRequest)
            #expect(try noCertificate.jsonObject()["error"] as? String == "invalid_request")
        }
    }
}
