import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraServer

/// Each seed dialect's answer to a body over 64 KiB (413 natively) and to a
/// `Content-Type` it does not read (415 natively), in that dialect's own error
/// shape and statuses, through the real router; Rezolve's 500 and 503; and the
/// throttle on Mixpanel's HTTP Basic.
@Suite struct DialectErrorTests {
    /// A JSON object of 70,000 bytes and more: over the 64 KiB limit.
    static let oversize = #"{"name":"x","username":"x","description":""# + String(repeating: "d", count: 70_000) + #""}"#

    static func post(
        _ client: some TestClientProtocol, _ uri: String, authorization: String, contentType: String, body: String,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: authorization, .contentType: contentType]
        for field in extra { headers[field.name] = field.value }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    @Test func mixpanelAnswersBothWithItsOwn400() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let number = try #require(try await harness.tessera.tenants.find("acme")).number
        try await harness.run { client in
            let bearer = "Bearer " + (try await client.accessToken(admin))
            let uri = "/api/app/organizations/\(number)/service-accounts"
            for (contentType, body, error) in [
                ("application/json", Self.oversize, "the body exceeds 65536 bytes"),
                ("text/plain", #"{"username":"x"}"#, "the body must be application/json"),
            ] {
                let response = try await Self.post(client, uri, authorization: bearer, contentType: contentType, body: body)
                #expect(response.status == .badRequest, "\(contentType)")
                #expect(response.headers[.contentType] == "application/json")
                #expect(try response.canonicalJSON() == canonicalJSON(#"{"error":"\#(error)","status":"error"}"#))
            }
        }
        #expect(try await harness.tessera.storage.countServiceAccounts(tenantID: try #require(UUID(uuidString: admin.tenantID))) == 1)
    }

    @Test func ctrlHubAnswersBothWithAJSONAPIValidationError() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let bearer = "Bearer " + (try await client.accessToken(admin))
            let uri = "/v3/orgs/\(admin.tenantID)/iam/service-accounts"
            for (contentType, body, detail) in [
                (CtrlHubRoutes.mediaType, Self.oversize, "the body exceeds 65536 bytes"),
                (
                    "text/plain", #"{"data":{"type":"service-accounts","attributes":{"name":"x"}}}"#,
                    "the body must be application/json or application/vnd.api+json"
                ),
            ] {
                let response = try await Self.post(client, uri, authorization: bearer, contentType: contentType, body: body)
                #expect(response.status == .badRequest, "\(contentType)")
                #expect(response.headers[.contentType] == CtrlHubRoutes.mediaType)
                var errors = try #require(try response.jsonObject()["errors"] as? [[String: Any]])
                #expect(errors.count == 1)
                // Each error object has its own id.
                #expect(UUID(uuidString: try #require(errors[0].removeValue(forKey: "id") as? String)) != nil)
                let rest = String(decoding: try JSONSerialization.data(withJSONObject: errors[0]), as: UTF8.self)
                #expect(try canonicalJSON(rest) == canonicalJSON(#"{"status":"400","title":"A validation error was encountered","detail":"\#(detail)"}"#))
            }
        }
    }

    @Test func keycardAnswersBothInItsErrorShapeEchoingTheRequestID() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let requestID = UUID().uuidString
        try await harness.run { client in
            let bearer = "Bearer " + (try await client.accessToken(admin))
            for (contentType, body, status, detail) in [
                ("application/json", Self.oversize, HTTPResponse.Status.contentTooLarge, "the body exceeds 65536 bytes"),
                ("text/plain", #"{"name":"x"}"#, .unsupportedMediaType, "the body must be application/json"),
            ] {
                let response = try await Self.post(
                    client, "/organizations/acme/service-accounts", authorization: bearer, contentType: contentType, body: body,
                    headers: [.clientRequestID: requestID]
                )
                #expect(response.status == status)
                #expect(response.headers[.contentType] == "application/json")
                #expect(response.headers[.clientRequestID] == requestID)
                // Keycard's error object: {message, code, status}.
                #expect(
                    try response.canonicalJSON()
                        == canonicalJSON(
                            #"{"message":"\#(detail)","code":"invalid_request","status":\#(status.code)}"#
                        ))
            }
        }
    }

    /// FastAPI's statuses: a media type it does not read is a validation failure
    /// (422, a list of `{loc, msg, type}`); an oversize body keeps its 413 with a
    /// string `detail`.
    @Test func qualyticsAnswersInFastAPIsShapes() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let bearer = "Bearer " + (try await client.accessToken(admin))
            let oversize = try await Self.post(client, "/api/users", authorization: bearer, contentType: "application/json", body: Self.oversize)
            #expect(oversize.status == .contentTooLarge)
            #expect(oversize.headers[.contentType] == "application/json")
            #expect(try oversize.canonicalJSON() == canonicalJSON(#"{"detail":"the body exceeds 65536 bytes"}"#))
            let text = try await Self.post(client, "/api/users", authorization: bearer, contentType: "text/plain", body: #"{"name":"x","role":"Member"}"#)
            #expect(text.status == .unprocessableContent)
            #expect(text.headers[.contentType] == "application/json")
            #expect(
                try text.canonicalJSON()
                    == canonicalJSON(
                        #"{"detail":[{"loc":["body"],"msg":"the body must be application/json","type":"value_error"}]}"#
                    ))
        }
    }

    /// Rezolve's create takes no body: whatever body and media type come with it are
    /// not read, so there is no 413 or 415 to answer.
    @Test func rezolveReadsNoBody() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let bearer = "Bearer " + (try await client.accessToken(admin))
            let response = try await Self.post(
                client, "/api/v1/admin/service-account/create", authorization: bearer, contentType: "text/plain", body: Self.oversize,
                headers: [.tenantID: "acme"]
            )
            #expect(response.status == .ok)
            #expect(try response.jsonObject()["success"] as? Bool == true)
        }
    }

    /// Rezolve's documented 500: a failure Tessera cannot classify (here a store that
    /// throws something other than "unavailable") is "Server error" with nothing of
    /// the cause; an unreachable store is its 503 with `Retry-After`.
    @Test func rezolveAnswers500ForAnUnclassifiedFailureAnd503ForAnUnreachableStore() async throws {
        let clock = TestClock()
        let harness = try await ServerHarness(clock: clock)
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            // The admin's token is checked from the cache; the tenant is read from the store.
            harness.storage.broken.withLock { $0 = true }
            let failed = try await RezolveDialectTests.create(client, token: token, tenant: "acme")
            harness.storage.broken.withLock { $0 = false }
            #expect(failed.status == .internalServerError)
            #expect(failed.headers[.retryAfter] == nil)
            #expect(
                try failed.canonicalJSON()
                    == canonicalJSON(
                        #"{"success":false,"error":{"code":"INTERNAL_ERROR","message":"Server error","details":"unexpected server-side error"},"timestamp":"2027-01-15T08:00:00.000Z"}"#
                    ))

            harness.storeDown(true)
            let down = try await RezolveDialectTests.create(client, token: token, tenant: "acme")
            harness.storeDown(false)
            #expect(down.status == .serviceUnavailable)
            #expect(down.headers[.retryAfter] == "1")
            #expect(
                try down.canonicalJSON()
                    == canonicalJSON(
                        #"{"success":false,"error":{"code":"SERVICE_UNAVAILABLE","message":"Service unavailable","details":"the store is unavailable"},"timestamp":"2027-01-15T08:00:00.000Z"}"#
                    ))
            // Neither created anything.
            #expect(try await client.call(.get, "/v1/tenants/acme/service-accounts", token: token).items().count == 1)
        }
    }

    /// The admin API's 429: Mixpanel takes a service account's `client_id:secret` as
    /// HTTP Basic, checked as at the token endpoint, so wrong secrets are throttled
    /// there too (5 failures of one client from one address lock it for 1 s).
    @Test func mixpanelsBasicAuthenticationIsThrottled() async throws {
        let clock = TestClock()
        let harness = try await ServerHarness(clock: clock)
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let number = try #require(try await harness.tessera.tenants.find("acme")).number
        let uri = "/api/app/organizations/\(number)/service-accounts"
        let wrong = "Basic " + Data("\(admin.clientID):\(SecretFormat.make(randomBytes: Array(repeating: 3, count: 32)))".utf8).base64EncodedString()
        try await harness.run { client in
            for _ in 0..<5 {
                let refused = try await Self.post(client, uri, authorization: wrong, contentType: "application/json", body: #"{"username":"x"}"#)
                #expect(refused.status == .unauthorized)
                #expect(refused.headers[.wwwAuthenticate] == #"Basic realm="tessera""#)
                #expect(try refused.canonicalJSON() == canonicalJSON(#"{"error":"the credentials are invalid","status":"error"}"#))
            }
            let right = MixpanelDialectTests.basic(admin)
            let locked = try await Self.post(client, uri, authorization: right, contentType: "application/json", body: #"{"username":"locked-out"}"#)
            #expect(locked.status == .tooManyRequests)
            #expect(locked.headers[.retryAfter] == "1")
            #expect(locked.headers[.wwwAuthenticate] == nil)
            #expect(try locked.canonicalJSON() == canonicalJSON(#"{"error":"too many failed attempts","status":"error"}"#))
            clock.advance(1)
            let admitted = try await Self.post(client, uri, authorization: right, contentType: "application/json", body: #"{"username":"after-the-lock"}"#)
            #expect(admitted.status == .created)
        }
        let tenantID = try #require(UUID(uuidString: admin.tenantID))
        let names = try await harness.tessera.storage.listServiceAccounts(tenantID: tenantID, filter: .init(), afterNumber: nil, limit: 10).map(\.name)
        // The admin (named at the test clock's instant) and the account created after the lock; not the locked-out one.
        #expect(names == ["service-account-20270115080000", "after-the-lock"])
    }
}
