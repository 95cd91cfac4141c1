import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraJOSE
import TesseraSQLite
import TesseraTestSupport
import Testing

@testable import TesseraCore
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
        ErrorCase(
            name: "password grant", form: "grant_type=password", status: .badRequest, error: "unsupported_grant_type",
            description: "the grant types are client_credentials and urn:ietf:params:oauth:grant-type:token-exchange"),
        ErrorCase(
            name: "repeated parameter", form: "grant_type=client_credentials&scope=a&scope=b", status: .badRequest, error: "invalid_request",
            description: "parameter scope is repeated"),
        ErrorCase(
            name: "bad percent-encoding", form: "grant_type=client_credentials&scope=%zz", status: .badRequest, error: "invalid_request",
            description: "the form body is not valid form-url-encoding"),
        ErrorCase(
            name: "JSON body", form: #"{"grant_type":"client_credentials"}"#, contentType: "application/json", status: .badRequest, error: "invalid_request",
            description: "the body must be application/x-www-form-urlencoded"),
        ErrorCase(
            name: "no content type", form: "grant_type=client_credentials", contentType: nil, status: .badRequest, error: "invalid_request",
            description: "the body must be application/x-www-form-urlencoded"),
        ErrorCase(
            name: "no client authentication", form: "grant_type=client_credentials", basic: false, status: .unauthorized, error: "invalid_client",
            description: "client authentication is required"),
        ErrorCase(
            name: "scope beyond the roles", form: "grant_type=client_credentials&scope=tessera%3Aadmin", status: .badRequest, error: "invalid_scope",
            description: "scope not allowed for this client: tessera:admin"),
        ErrorCase(
            name: "audience not allowed", form: "grant_type=client_credentials&resource=https%3A%2F%2Fother.example", status: .badRequest,
            error: "invalid_target", description: "audience not allowed for this client"),
        ErrorCase(
            name: "secret in body and header", form: "grant_type=client_credentials&client_secret=x", status: .badRequest, error: "invalid_request",
            description: "use one client authentication method, not Basic and client_secret together"),
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

    /// Past 5 failures of one client id from one address, attempts are refused
    /// unchecked with 429 and `Retry-After` for 1 s, doubling with each further failure
    /// (docs/threat_model.md); a success clears the client's count. Driven by a test
    /// clock, not by sleeping.
    @Test func repeatedFailuresAre429WithRetryAfterAndAGoodSecretWaits() async throws {
        let clock = TestClock()
        let harness = try await ServerHarness(clock: clock)
        defer { harness.cleanup() }
        let credentials = try await harness.credentials(role: "analyst")
        let other = try await harness.credentials(role: "analyst")
        let wrong = SecretFormat.make(randomBytes: Array(repeating: 5, count: 32))
        let good = (credentials.clientID, credentials.clientSecret)
        try await harness.run { client in
            func expectLocked(_ response: TestResponse, retryAfter: Int) throws {
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[.retryAfter] == String(retryAfter))
                #expect(response.headers[.cacheControl] == "no-store")
                #expect(response.headers[.wwwAuthenticate] == nil)
                #expect(
                    try response.canonicalJSON()
                        == canonicalJSON(
                            #"{"error":"temporarily_unavailable","error_description":"too many failed client authentications; retry after \#(retryAfter) s"}"#
                        ))
            }
            for _ in 0..<5 {
                let response = try await client.token("grant_type=client_credentials", basic: (credentials.clientID, wrong))
                #expect(response.status == .unauthorized)
                #expect(try response.jsonObject()["error"] as? String == "invalid_client")
            }
            // Locked for 1 s: even the right secret is refused unchecked.
            try expectLocked(try await client.token("grant_type=client_credentials", basic: good), retryAfter: 1)
            // Other clients from the same place are not held up below the address threshold.
            #expect(try await client.token("grant_type=client_credentials", basic: (other.clientID, other.clientSecret)).status == .ok)
            clock.advance(0.5)
            try expectLocked(try await client.token("grant_type=client_credentials", basic: good), retryAfter: 1)
            clock.advance(0.5)
            // The lock is over; a sixth failure locks for twice as long.
            #expect(try await client.token("grant_type=client_credentials", basic: (credentials.clientID, wrong)).status == .unauthorized)
            try expectLocked(try await client.token("grant_type=client_credentials", basic: good), retryAfter: 2)
            clock.advance(1.999)
            try expectLocked(try await client.token("grant_type=client_credentials", basic: good), retryAfter: 1)
            clock.advance(0.001)
            #expect(try await client.token("grant_type=client_credentials", basic: good).status == .ok)
            // The success cleared the count: one failure no longer locks.
            #expect(try await client.token("grant_type=client_credentials", basic: (credentials.clientID, wrong)).status == .unauthorized)
            #expect(try await client.token("grant_type=client_credentials", basic: good).status == .ok)
        }
    }

    /// `--token-rate-limit 2`: a bucket of 2 tokens per account refilled at 2 per
    /// second; the third token at one instant waits half a second, rounded up to 1.
    @Test func perAccountRateLimitAnswers429() async throws {
        let clock = TestClock()
        let harness = try await ServerHarness(clock: clock, tokenRateLimit: 2)
        defer { harness.cleanup() }
        let credentials = try await harness.credentials(role: "member")
        let other = try await harness.credentials(role: "member")
        let basic = (credentials.clientID, credentials.clientSecret)
        try await harness.run { client in
            for _ in 0..<2 {
                #expect(try await client.token("grant_type=client_credentials", basic: basic).status == .ok)
            }
            let limited = try await client.token("grant_type=client_credentials", basic: basic)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] == "1")
            #expect(limited.headers[.cacheControl] == "no-store")
            #expect(
                try limited.canonicalJSON()
                    == canonicalJSON(
                        #"{"error":"temporarily_unavailable","error_description":"this client obtains tokens too fast; retry after 1 s"}"#
                    ))
            // Another account has its own bucket.
            #expect(try await client.token("grant_type=client_credentials", basic: (other.clientID, other.clientSecret)).status == .ok)
            // Half a second refills one token, and only one.
            clock.advance(0.499)
            #expect(try await client.token("grant_type=client_credentials", basic: basic).status == .tooManyRequests)
            clock.advance(0.001)
            #expect(try await client.token("grant_type=client_credentials", basic: basic).status == .ok)
            #expect(try await client.token("grant_type=client_credentials", basic: basic).status == .tooManyRequests)
        }
    }

    /// RFC 6749 §5.2 gives 503 `temporarily_unavailable` no body of its own; Tessera
    /// answers it with `Retry-After: 1` (RFC 9110 §10.2.3) whenever it cannot decide.
    static func expectTemporarilyUnavailable(_ response: TestResponse, _ description: String) throws {
        #expect(response.status == .serviceUnavailable)
        #expect(response.headers[.retryAfter] == "1")
        #expect(response.headers[.cacheControl] == "no-store")
        #expect(response.headers[.pragma] == "no-cache")
        #expect(response.headers[.contentType] == "application/json")
        #expect(response.headers[.wwwAuthenticate] == nil)
        #expect(try response.canonicalJSON() == canonicalJSON(#"{"error":"temporarily_unavailable","error_description":"\#(description)"}"#))
    }

    /// The store is down and the client is not in the cache: nothing can be decided,
    /// so 503 (never `invalid_client`, which would tell a good client its secret is wrong).
    /// A client the server already knows keeps obtaining tokens.
    @Test func storeDownAndClientNotCachedIs503WithRetryAfter() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let known = try await harness.credentials(role: "analyst")
        let unknown = try await harness.credentials(role: "analyst")
        try await harness.run { client in
            #expect(try await client.token("grant_type=client_credentials", basic: (known.clientID, known.clientSecret)).status == .ok)
            harness.storeDown(true)
            for form in [
                "grant_type=client_credentials&client_id=\(unknown.clientID)&client_secret=\(unknown.clientSecret)",
                "grant_type=client_credentials&client_id=tsc_neverseen&client_secret=\(unknown.clientSecret)",
            ] {
                try Self.expectTemporarilyUnavailable(try await client.token(form), "the client store is unavailable")
            }
            try Self.expectTemporarilyUnavailable(
                try await client.token("grant_type=client_credentials", basic: (unknown.clientID, unknown.clientSecret)), "the client store is unavailable"
            )
            #expect(try await client.token("grant_type=client_credentials", basic: (known.clientID, known.clientSecret)).status == .ok)
            harness.storeDown(false)
            #expect(try await client.token("grant_type=client_credentials", basic: (unknown.clientID, unknown.clientSecret)).status == .ok)
        }
    }

    /// No signing key loaded (the key ring never loaded): the client authenticates,
    /// but no token can be signed.
    @Test func noSigningKeyIs503WithRetryAfter() async throws {
        let harness = try await ServerHarness(startKeyRing: false)
        defer { harness.cleanup() }
        #expect(harness.tessera.keyRing.snapshot == nil)
        let credentials = try await harness.credentials(role: "analyst")
        try await harness.run { client in
            try Self.expectTemporarilyUnavailable(
                try await client.token("grant_type=client_credentials", basic: (credentials.clientID, credentials.clientSecret)),
                "no signing key is loaded"
            )
        }
        // Loaded, the same request succeeds: the 503 was the key's.
        try await harness.tessera.start(signingAlgorithm: .es256)
        try await harness.run { client in
            let response = try await client.token("grant_type=client_credentials", basic: (credentials.clientID, credentials.clientSecret))
            #expect(response.status == .ok)
        }
    }

    /// The digest comparison decides, not only the checksum: a well-formed secret
    /// that shares all but the last random character with the real one (its checksum
    /// recomputed, so the format check passes) is refused, as is one whose last
    /// (checksum) character alone differs, and the real one is accepted.
    @Test func aSecretDifferingInOneCharacterIsInvalidClient() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let credentials = try await harness.credentials(role: "analyst")
        let secret = credentials.clientSecret
        let body = String(secret.prefix(SecretFormat.length - 6))
        let nearBody = String(body.dropLast()) + (body.hasSuffix("A") ? "B" : "A")
        let near = nearBody + SecretFormat.checksum(of: nearBody)
        #expect(SecretFormat.isWellFormed(near))
        #expect(near.prefix(SecretFormat.length - 7) == secret.prefix(SecretFormat.length - 7))
        #expect(SecretFormat.digest(near) != SecretFormat.digest(secret))
        let lastChanged = String(secret.dropLast()) + (secret.hasSuffix("A") ? "B" : "A")
        try await harness.run { client in
            for wrong in [near, lastChanged] {
                let response = try await client.token("grant_type=client_credentials", basic: (credentials.clientID, wrong))
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Basic realm="tessera", charset="UTF-8""#)
                #expect(try response.canonicalJSON() == canonicalJSON(#"{"error":"invalid_client","error_description":"client authentication failed"}"#))
            }
            #expect(try await client.token("grant_type=client_credentials", basic: (credentials.clientID, secret)).status == .ok)
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
            #expect(response.headers[.cacheControl] == "no-store")
            #expect(response.headers[.pragma] == "no-cache")
            #expect(try response.canonicalJSON() == canonicalJSON(#"{"error":"invalid_request","error_description":"the body exceeds 16384 bytes"}"#))
        }
    }

    @Test func getIsMethodNotAllowed() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            let response = try await client.execute(uri: "/oauth2/token", method: .get)
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers[.allow] == "POST")
            #expect(response.headers[.contentType] == "application/problem+json")
            #expect(try response.canonicalJSON() == canonicalJSON(#"{"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"use POST"}"#))
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
