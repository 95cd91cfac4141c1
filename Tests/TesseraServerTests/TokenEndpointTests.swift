import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TesseraCore
import TesseraJOSE
import TesseraSQLite
@testable import TesseraServer

@Suite struct TokenEndpointTests {
    @Test func clientSecretBasicIssuesAVerifiableToken() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let credentials = try await harness.credentials(role: "analyst")
        try await harness.run { client in
            let response = try await client.token("grant_type=client_credentials", basic: (credentials.clientID, credentials.clientSecret))
            #expect(response.status == .ok)
            #expect(response.headers[.cacheControl] == "no-store")
            #expect(response.headers[.pragma] == "no-cache")
            #expect(response.headers[.contentType] == "application/json")
            let body = try response.jsonObject()
            #expect(Set(body.keys) == ["access_token", "token_type", "expires_in", "scope"])
            #expect(body["token_type"] as? String == "Bearer")
            #expect(body["expires_in"] as? Int == 3600)
            #expect(body["scope"] as? String == "api:read")
            let jws = try CompactJWS(try #require(body["access_token"] as? String))
            try jws.verify(with: try #require(harness.tessera.keyRing.snapshot?.verificationKeys))
            let claims = try JSONDecoder().decode(AccessTokenClaims.self, from: Data(jws.payload))
            #expect(claims.iss == ServerHarness.issuer)
            #expect(claims.clientID == credentials.clientID)
            #expect(claims.sub == credentials.serviceAccountID)
            #expect(claims.tenant == credentials.tenantID)
        }
    }

    @Test func clientSecretPostIssuesAToken() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let credentials = try await harness.credentials(role: "editor")
        try await harness.run { client in
            let response = try await client.token(
                "grant_type=client_credentials&client_id=\(credentials.clientID)&client_secret=\(credentials.clientSecret)&scope=api%3Awrite"
            )
            #expect(response.status == .ok)
            #expect(try response.jsonObject()["scope"] as? String == "api:write")
        }
    }

    @Test func basicCredentialsAreFormURLDecoded() async throws {
        // RFC 6749 §2.3.1: id and secret are form-url-encoded before Basic encoding.
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let credentials = try await harness.credentials(role: "analyst")
        let encodedID = credentials.clientID.replacingOccurrences(of: "_", with: "%5F")
        try await harness.run { client in
            let response = try await client.token("grant_type=client_credentials", basic: (encodedID, credentials.clientSecret))
            #expect(response.status == .ok)
        }
    }

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        let name: String
        let form: String
        var basic = true
        var contentType: String? = "application/x-www-form-urlencoded"
        let status: HTTPResponse.Status
        let error: String
        let description: String
        var testDescription: String { name }
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(name: "missing grant_type", form: "scope=api%3Aread", status: .badRequest, error: "invalid_request", description: "grant_type is missing"),
        ErrorCase(name: "password grant", form: "grant_type=password", status: .badRequest, error: "unsupported_grant_type", description: "only client_credentials is supported"),
        ErrorCase(name: "repeated parameter", form: "grant_type=client_credentials&scope=a&scope=b", status: .badRequest, error: "invalid_request", description: "parameter scope is repeated"),
        ErrorCase(name: "bad percent-encoding", form: "grant_type=client_credentials&scope=%zz", status: .badRequest, error: "invalid_request", description: "the form body is not valid form-url-encoding"),
        ErrorCase(name: "JSON body", form: #"{"grant_type":"client_credentials"}"#, contentType: "application/json", status: .badRequest, error: "invalid_request", description: "the body must be application/x-www-form-urlencoded"),
        ErrorCase(name: "no content type", form: "grant_type=client_credentials", contentType: nil, status: .badRequest, error: "invalid_request", description: "the body must be application/x-www-form-urlencoded"),
        ErrorCase(name: "no client authentication", form: "grant_type=client_credentials", basic: false, status: .unauthorized, error: "invalid_client", description: "client authentication is required"),
        ErrorCase(name: "scope beyond the roles", form: "grant_type=client_credentials&scope=tessera%3Aadmin", status: .badRequest, error: "invalid_scope", description: "scope not allowed for this client: tessera:admin"),
        ErrorCase(name: "audience not allowed", form: "grant_type=client_credentials&resource=https%3A%2F%2Fother.example", status: .badRequest, error: "invalid_target", description: "audience not allowed for this client"),
        ErrorCase(name: "secret in body and header", form: "grant_type=client_credentials&client_secret=x", status: .badRequest, error: "invalid_request", description: "use one client authentication method, not Basic and client_secret together"),
    ]

    @Test(arguments: errorCases)
    func errorsFollowRFC6749Section52(_ errorCase: ErrorCase) async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let credentials = try await harness.credentials(role: "analyst")
        try await harness.run { client in
            let response = try await client.token(
                errorCase.form, basic: errorCase.basic ? (credentials.clientID, credentials.clientSecret) : nil,
                contentType: errorCase.contentType
            )
            #expect(response.status == errorCase.status)
            #expect(response.headers[.cacheControl] == "no-store")
            #expect(response.headers[.pragma] == "no-cache")
            let body = try response.jsonObject()
            #expect(body["error"] as? String == errorCase.error)
            #expect(body["error_description"] as? String == errorCase.description)
            #expect(Set(body.keys) == ["error", "error_description"])
            if errorCase.error == "invalid_client" {
                #expect(response.headers[.wwwAuthenticate] == #"Basic realm="tessera", charset="UTF-8""#)
            } else {
                #expect(response.headers[.wwwAuthenticate] == nil)
            }
        }
    }

    @Test func wrongSecretIsInvalidClientWithChallengeAndNoHint() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let credentials = try await harness.credentials(role: "analyst")
        let wrong = SecretFormat.make(randomBytes: Array(repeating: 3, count: 32))
        try await harness.run { client in
            for basic in [(credentials.clientID, wrong), ("tsc_unknown", credentials.clientSecret), (credentials.clientID, "short")] {
                let response = try await client.token("grant_type=client_credentials", basic: basic)
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Basic realm="tessera", charset="UTF-8""#)
                #expect(try response.jsonObject()["error_description"] as? String == "client authentication failed")
                #expect(!response.text.contains(credentials.clientSecret))
            }
            let post = try await client.token("grant_type=client_credentials&client_id=\(credentials.clientID)&client_secret=\(wrong)")
            #expect(post.status == .unauthorized)
            #expect(try post.jsonObject()["error"] as? String == "invalid_client")
        }
    }

    @Test func repeatedFailuresAre429WithRetryAfterAndAGoodSecretWaits() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let credentials = try await harness.credentials(role: "analyst")
        let wrong = SecretFormat.make(randomBytes: Array(repeating: 5, count: 32))
        try await harness.run { client in
            for _ in 0..<5 {
                let response = try await client.token("grant_type=client_credentials", basic: (credentials.clientID, wrong))
                #expect(response.status == .unauthorized)
            }
            let locked = try await client.token("grant_type=client_credentials", basic: (credentials.clientID, credentials.clientSecret))
            #expect(locked.status == .tooManyRequests)
            #expect(locked.headers[.retryAfter] == "1")
            #expect(try locked.jsonObject()["error"] as? String == "temporarily_unavailable")
            // Other clients from the same place are not held up below the address threshold.
            let other = try await harness.credentials(role: "analyst")
            #expect(try await client.token("grant_type=client_credentials", basic: (other.clientID, other.clientSecret)).status == .ok)
        }
    }

    @Test func perAccountRateLimitAnswers429() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-rate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tessera = Tessera(
            issuer: ServerHarness.issuer, storage: try SQLiteStorage(path: directory.appendingPathComponent("db.sqlite").path),
            masterKey: .generate(), tokenRateLimit: 2
        )
        try await tessera.start(signingAlgorithm: .es256)
        let credentials = try await Bootstrap(tenants: tessera.tenants, accounts: tessera.accounts).run(tenantSlug: "acme", role: "member")
        let other = try await Bootstrap(tenants: tessera.tenants, accounts: tessera.accounts).run(tenantSlug: "acme", role: "member")
        let app = Application(router: TesseraHTTP.router(tessera: tessera, configuration: .init()))
        try await app.test(.router) { client in
            for _ in 0..<2 {
                #expect(try await client.token("grant_type=client_credentials", basic: (credentials.clientID, credentials.clientSecret)).status == .ok)
            }
            let limited = try await client.token("grant_type=client_credentials", basic: (credentials.clientID, credentials.clientSecret))
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] == "1")
            #expect(try limited.jsonObject()["error"] as? String == "temporarily_unavailable")
            #expect(try await client.token("grant_type=client_credentials", basic: (other.clientID, other.clientSecret)).status == .ok)
        }
    }

    @Test func malformedBasicHeaderIsInvalidClient() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let malformed = [
                "Basic !!!", "Basic " + Data("no-colon".utf8).base64EncodedString(), "Bearer abc", "Basic", "Basi", "Basic\u{0}x",
                "Basic " + Data(":secret".utf8).base64EncodedString(),
                "Basic " + Data([0xFF, UInt8(ascii: ":"), UInt8(ascii: "s")]).base64EncodedString(),
                "Basic " + Data("id:%zz".utf8).base64EncodedString(),
            ]
            for header in malformed {
                let response = try await client.execute(
                    uri: "/oauth2/token", method: .post,
                    headers: [.contentType: "application/x-www-form-urlencoded", .authorization: header],
                    body: ByteBuffer(string: "grant_type=client_credentials")
                )
                #expect(response.status == .unauthorized)
                #expect(try response.jsonObject()["error"] as? String == "invalid_client")
            }
        }
    }

    @Test func basicSchemeIsCaseInsensitiveAndSurroundingSpaceIsIgnored() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let credentials = try await harness.credentials(role: "analyst")
        let encoded = Data("\(credentials.clientID):\(credentials.clientSecret)".utf8).base64EncodedString()
        try await harness.run { client in
            for header in ["BASIC " + encoded, "basic \t " + encoded + "  "] {
                let response = try await client.execute(
                    uri: "/oauth2/token", method: .post,
                    headers: [.contentType: "application/x-www-form-urlencoded", .authorization: header],
                    body: ByteBuffer(string: "grant_type=client_credentials")
                )
                #expect(response.status == .ok, "\(header)")
            }
        }
    }

    @Test func oversizeBodyIs413() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let response = try await client.token("grant_type=client_credentials&scope=" + String(repeating: "a", count: 20_000))
            #expect(response.status == .contentTooLarge)
            #expect(try response.jsonObject()["error"] as? String == "invalid_request")
        }
    }

    @Test func getIsMethodNotAllowed() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let response = try await client.execute(uri: "/oauth2/token", method: .get)
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers[.allow] == "POST")
        }
    }

    @Test func emptyParametersCountAsOmitted() async throws {
        // RFC 6749 §3.1: a parameter without a value is treated as omitted.
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let credentials = try await harness.credentials(role: "analyst")
        try await harness.run { client in
            let response = try await client.token("grant_type=client_credentials&scope=&audience=", basic: (credentials.clientID, credentials.clientSecret))
            #expect(response.status == .ok)
            #expect(try response.jsonObject()["scope"] as? String == "api:read")
        }
    }
}
