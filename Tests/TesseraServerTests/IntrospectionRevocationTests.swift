import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

extension TestClientProtocol {
    /// POSTs a form to `path` authenticated with client_secret_basic.
    func form(_ path: String, _ form: String, as credentials: Bootstrap.Result) async throws -> TestResponse {
        try await execute(
            uri: path, method: .post,
            headers: [
                .contentType: "application/x-www-form-urlencoded",
                .authorization: "Basic " + Data("\(credentials.clientID):\(credentials.clientSecret)".utf8).base64EncodedString(),
            ],
            body: ByteBuffer(string: form)
        )
    }
}

@Suite struct IntrospectionRevocationTests {
    @Test func activeTokenIsDescribedPerRFC7662() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let worker = try await harness.credentials(role: "editor")
        try await harness.run { client in
            let token = try await client.accessToken(worker)
            let response = try await client.form("/oauth2/introspect", "token=\(token)", as: admin)
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "no-store")
            let body = try response.jsonObject()
            let claims = try JSONDecoder().decode(AccessTokenClaims.self, from: Data(try CompactJWS(token).payload))
            #expect(body["active"] as? Bool == true)
            #expect(body["scope"] as? String == "api:read api:write")
            #expect(body["client_id"] as? String == worker.clientID)
            #expect(body["sub"] as? String == worker.serviceAccountID)
            #expect(body["aud"] as? [String] == [ServerHarness.issuer])
            #expect(body["iss"] as? String == ServerHarness.issuer)
            #expect(body["exp"] as? Int == Int(claims.exp))
            #expect(body["iat"] as? Int == Int(claims.iat))
            #expect(body["nbf"] as? Int == Int(claims.nbf))
            #expect(body["jti"] as? String == claims.jti)
            #expect(body["token_type"] as? String == "Bearer")
            #expect(body["tenant"] as? String == worker.tenantID)
        }
    }

    @Test func inactiveTokensAnswerOnlyActiveFalse() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let other = try await harness.credentials(tenant: "globex", role: "editor")
        let foreign = try await ServerHarness()
        defer { foreign.cleanup() }
        let foreignAccount = try await foreign.credentials()
        let foreignToken = try await foreign.run { client in try await client.accessToken(foreignAccount) }
        try await harness.run { client in
            let valid = try await client.accessToken(admin)
            let otherTenant = try await client.accessToken(other)
            for token in ["garbage", valid + "x", foreignToken, otherTenant, String(repeating: "a", count: 20_000)] {
                let response = try await client.form("/oauth2/introspect", "token=\(token)", as: admin)
                #expect(response.status == .ok)
                #expect(response.text == #"{"active":false}"#)
            }
        }
    }

    @Test func superAdminIntrospectsEveryTenant() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let root = try await harness.credentials(tenant: "root", role: "super_admin")
        let worker = try await harness.credentials(tenant: "acme", role: "member")
        try await harness.run { client in
            let response = try await client.form("/oauth2/introspect", "token=\(try await client.accessToken(worker))", as: root)
            #expect(try response.jsonObject()["active"] as? Bool == true)
        }
    }

    @Test func clientWithoutIntrospectScopeIsRefused() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let worker = try await harness.credentials(role: "analyst")
        try await harness.run { client in
            let token = try await client.accessToken(worker)
            let response = try await client.form("/oauth2/introspect", "token=\(token)", as: worker)
            #expect(response.status == .forbidden)
            #expect(try response.jsonObject()["error"] as? String == "unauthorized_client")
            let anonymous = try await client.execute(
                uri: "/oauth2/introspect", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "token=\(token)")
            )
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate] == #"Basic realm="tessera", charset="UTF-8""#)
            #expect(try anonymous.canonicalJSON() == canonicalJSON(#"{"error":"invalid_client","error_description":"client authentication is required"}"#))
            let missing = try await client.form("/oauth2/introspect", "", as: try await harness.credentials())
            #expect(missing.status == .badRequest)
            #expect(try missing.jsonObject()["error_description"] as? String == "token is missing")
        }
    }

    @Test func ownerRevokesAndTheTokenIsInactiveEverywhere() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let second = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(second)
            #expect(try await client.call(.get, "/v1/whoami", token: token).status == .ok)
            let revoked = try await client.form("/oauth2/revoke", "token=\(token)&token_type_hint=access_token", as: second)
            #expect(revoked.status == .ok)
            #expect(revoked.body.readableBytes == 0)
            let introspected = try await client.form("/oauth2/introspect", "token=\(token)", as: admin)
            #expect(introspected.text == #"{"active":false}"#)
            #expect(try await client.call(.get, "/v1/whoami", token: token).status == .unauthorized)
            // Revoking again, or revoking garbage, is still 200 (RFC 7009 §2.2).
            #expect(try await client.form("/oauth2/revoke", "token=\(token)", as: second).status == .ok)
            #expect(try await client.form("/oauth2/revoke", "token=not-a-token", as: second).status == .ok)
            // A fresh token of the same client is unaffected.
            let fresh = try await client.accessToken(second)
            #expect(try await client.form("/oauth2/introspect", "token=\(fresh)", as: admin).jsonObject()["active"] as? Bool == true)
            // The store holds the revoked token's jti, until the token would have
            // expired, and not the fresh one's.
            let revokedClaims = try harness.tessera.validator.signedClaims(token)
            let freshClaims = try harness.tessera.validator.signedClaims(fresh)
            #expect(revokedClaims.jti != freshClaims.jti)
            #expect(try await harness.tessera.storage.isTokenRevoked(jti: revokedClaims.jti))
            #expect(try await harness.tessera.storage.isTokenRevoked(jti: freshClaims.jti) == false)
            let stored = try await harness.tessera.storage.revokedTokens(expiringAfter: Date(timeIntervalSince1970: 0), limit: 10)
            #expect(stored.map(\.jti) == [revokedClaims.jti])
            #expect(stored.first?.expiresAt == Date(timeIntervalSince1970: TimeInterval(revokedClaims.exp)))
        }
    }

    @Test func adminRevokesTenantTokensButStrangersCannot() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let worker = try await harness.credentials(role: "member")
        let bystander = try await harness.credentials(role: "member")
        let outsider = try await harness.credentials(tenant: "globex")
        try await harness.run { client in
            let token = try await client.accessToken(worker)
            for stranger in [bystander, outsider] {
                let refused = try await client.form("/oauth2/revoke", "token=\(token)", as: stranger)
                #expect(refused.status == .badRequest)
                #expect(try refused.jsonObject()["error"] as? String == "unauthorized_client")
            }
            #expect(try await client.form("/oauth2/introspect", "token=\(token)", as: admin).jsonObject()["active"] as? Bool == true)
            #expect(try await client.form("/oauth2/revoke", "token=\(token)", as: admin).status == .ok)
            #expect(try await client.form("/oauth2/introspect", "token=\(token)", as: admin).text == #"{"active":false}"#)
        }
    }

    @Test func disabledAccountsTokensBecomeInactive() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let worker = try await harness.credentials(role: "member")
        try await harness.run { client in
            let token = try await client.accessToken(worker)
            _ = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(worker.serviceAccountID)", token: try await client.accessToken(admin),
                json: #"{"status":"disabled"}"#
            )
            #expect(try await client.form("/oauth2/introspect", "token=\(token)", as: admin).text == #"{"active":false}"#)
        }
    }

    @Test func metadataAdvertisesBothEndpoints() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let body = try await client.execute(uri: "/.well-known/oauth-authorization-server", method: .get).jsonObject()
            #expect(body["introspection_endpoint"] as? String == "http://tessera.test/oauth2/introspect")
            #expect(body["revocation_endpoint"] as? String == "http://tessera.test/oauth2/revoke")
            #expect(body["introspection_endpoint_auth_methods_supported"] as? [String] == ["client_secret_basic", "client_secret_post"])
        }
    }
}
