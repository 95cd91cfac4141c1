import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

@Suite struct LiveSocketTests {
    @Test func wholeFlowOverARealSocket() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.app.test(.live) { client in
            let token = try await client.accessToken(admin)
            let created = try await client.createAccount(tenant: "acme", token: token, body: #"{"name":"over-the-wire","roles":["member"]}"#)
            #expect(created.status == .created)
            let body = try created.jsonObject()
            let id = try #require(body["client_id"] as? String), secret = try #require(body["client_secret"] as? String)
            let issued = try await client.token("grant_type=client_credentials", basic: (id, secret))
            #expect(issued.status == .ok)
            #expect(try issued.jsonObject()["scope"] as? String == "api:read")
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get)
            #expect(jwks.status == .ok)
        }
    }
}
