import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraServer

@Suite struct DialectErrorPathTests {
    @Test func repeatedWrongBasicCredentialsAreThrottledInMixpanelsShape() async throws {
        let clock = TestClock()
        let harness = try await ServerHarness(clock: clock)
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let organization = String(try #require(try await harness.tessera.tenants.find("acme")).number)
        let wrong = "Basic " + Data("\(admin.clientID):\(SecretFormat.make(randomBytes: Array(repeating: 3, count: 32)))".utf8).base64EncodedString()
        try await harness.run { client in
            for attempt in 1...8 {
                // Past 5 failures the lock is 1 s, doubled at each further failure; the
                // clock moves on by each lock, so every attempt is checked again.
                let response = try await MixpanelDialectTests.create(client, organization: organization, authorization: wrong, body: #"{"username":"x"}"#)
                #expect(response.status == .unauthorized, "attempt \(attempt)")
                #expect(try response.canonicalJSON() == canonicalJSON(#"{"error":"the credentials are invalid","status":"error"}"#))
                if attempt >= 5 {
                    let locked = try await MixpanelDialectTests.create(client, organization: organization, authorization: wrong, body: #"{"username":"x"}"#)
                    let wait = 1 << (attempt - 5)
                    #expect(locked.status == .tooManyRequests, "attempt \(attempt)")
                    #expect(locked.headers[.retryAfter] == String(wait), "attempt \(attempt)")
                    #expect(try locked.canonicalJSON() == canonicalJSON(#"{"error":"too many failed attempts","status":"error"}"#))
                    clock.advance(TimeInterval(wait))
                }
            }
        }
    }

    @Test func ctrlHubRefusesAnotherMediaTypeWithItsOwn400() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let response = try await client.execute(
                uri: "/v3/orgs/\(admin.tenantID)/iam/service-accounts", method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "text/plain"],
                body: ByteBuffer(string: #"{"data":{"type":"service-accounts","attributes":{"name":"x"}}}"#)
            )
            #expect(response.status == .badRequest)
            #expect(response.headers[.contentType] == CtrlHubRoutes.mediaType)
            let error = try #require((try response.jsonObject()["errors"] as? [[String: Any]])?.first)
            #expect(error["status"] as? String == "400")
        }
    }

    @Test func anyErrorBecomesTheProblemItAnswers() {
        #expect(Problem(StoreError.unavailable("down") as any Error).status == .serviceUnavailable)
        #expect(Problem(StoreError.unavailable("down") as any Error).headers[.retryAfter] == "1")
        #expect(Problem(DomainError(.conflict, "taken") as any Error).status == .conflict)
        #expect(Problem(Problem(.badRequest, "bad", field: "f") as any Error).field == "f")
        #expect(Problem(CancellationError() as any Error).status == .internalServerError)
        #expect(Problem(CancellationError() as any Error).detail == "internal error")
    }
}
