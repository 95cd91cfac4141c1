import Foundation
import Logging
import Synchronization
import TesseraCore
import TesseraJOSE
import TesseraTestSupport
import Testing

@Suite struct UsageRecorderTests {
    @Test func pendingUsageIsWrittenWhenTheRecorderIsStopped() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let created = try await harness.account(in: try await harness.tenant())
        let usage = harness.tessera.usage
        let loop = Task { await usage.run(interval: .seconds(3600), logger: .init(label: "test")) }
        _ = try await harness.tessera.tokens.authenticate(clientID: created.account.clientID, secret: created.issuedSecret)
        loop.cancel()
        await loop.value
        let stored = try #require(try await harness.tessera.storage.credentials(clientID: created.account.clientID))
        #expect(stored.account.lastUsedAt == harness.clock.now)
    }
}
