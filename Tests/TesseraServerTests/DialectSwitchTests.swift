import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraTestSupport
import Testing

@testable import TesseraServer

@Suite struct DialectSwitchTests {
    @Test func aDialectSwitchedOffIsNotServed() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let app = Application(router: TesseraHTTP.router(tessera: harness.tessera, configuration: .init(dialects: [.keycard])))
        let status = try await app.test(.router) { client in
            try await client.execute(uri: "/api/v1/admin/service-account/create", method: .post).status
        }
        #expect(status == .notFound)
    }
}
