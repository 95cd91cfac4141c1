import Foundation
import Logging
import Synchronization
import TesseraCore
import TesseraJOSE
import TesseraTestSupport
import Testing

@Suite struct StoreOutageTests {
    @Test func knownClientsAreServedPastTheirTTLWhileTheStoreIsDownUpToTheStaleLimit() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let created = try await harness.account(in: try await harness.tenant())
        let storage = SwitchableStorage(harness.tessera.storage)
        let directory = ClientDirectory(storage: storage, timeToLive: 30, staleLimit: 300)
        let now = harness.clock.now
        #expect(try await directory.client(id: created.account.clientID, now: now)?.account.id == created.account.id)

        storage.down.withLock { $0 = true }
        // Past the TTL the store cannot be asked: the last answer stands...
        #expect(try await directory.client(id: created.account.clientID, now: now.addingTimeInterval(60))?.account.id == created.account.id)
        // ...but not past the stale limit, and an unknown client is not guessed at.
        await #expect(throws: StoreError.self) { try await directory.client(id: created.account.clientID, now: now.addingTimeInterval(301)) }
        await #expect(throws: StoreError.self) { try await directory.client(id: "tsc_unknown", now: now) }

        storage.down.withLock { $0 = false }
        #expect(try await directory.client(id: created.account.clientID, now: now.addingTimeInterval(302))?.account.id == created.account.id)
    }
}
