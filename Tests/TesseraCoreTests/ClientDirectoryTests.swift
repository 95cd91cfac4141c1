import Foundation
import Logging
import Synchronization
import TesseraCore
import TesseraJOSE
import TesseraTestSupport
import Testing

@Suite struct ClientDirectoryTests {
    @Test func cachedEntryIsServedUntilItsTimeToLive() async throws {
        let harness = try await CoreHarness(clientCacheTTL: 30)
        defer { harness.cleanup() }
        let tenant = try await harness.tenant()
        // Written straight to the store, bypassing the use case that invalidates.
        let now = harness.clock.now
        let account = ServiceAccount(
            id: UUID(), tenantID: tenant.id, clientID: "tsc_direct", name: "direct", roles: ["analyst"], createdAt: now, updatedAt: now)
        let directory = harness.tessera.clients
        #expect(try await directory.client(id: "tsc_direct", now: now) == nil)
        let secret = ClientSecret(id: UUID(), accountID: account.id, name: "default", hint: "h", digest: Array(repeating: 1, count: 32), createdAt: now)
        _ = try await harness.tessera.storage.createServiceAccount(account, secret: secret, limit: nil)
        // The negative answer is cached...
        #expect(try await directory.client(id: "tsc_direct", now: now.addingTimeInterval(29)) == nil)
        // ...until it expires.
        let record = try #require(try await directory.client(id: "tsc_direct", now: now.addingTimeInterval(31)))
        #expect(record.allowedScopes == ["api:read"])
        directory.invalidate(clientID: "tsc_direct")
        #expect(try await directory.client(id: "tsc_direct", now: now.addingTimeInterval(31))?.account.id == account.id)
    }
}
