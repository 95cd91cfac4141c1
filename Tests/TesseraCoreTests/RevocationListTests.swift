import Foundation
import TesseraCore
import TesseraSQLite
import TesseraTestSupport
import Testing

@Suite struct RevocationListTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A SQLite store behind a switch, with a list in front of it.
    struct Fixture {
        let store: SwitchableStorage
        let list: RevocationList
        let directory: URL

        init(capacity: Int = 100) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-revocations-\(UUID().uuidString)")
            store = SwitchableStorage(try SQLiteStorage(path: directory.appendingPathComponent("tessera.sqlite").path))
            list = RevocationList(storage: store, capacity: capacity)
        }

        func revokeInStore(_ jti: String, expiresIn seconds: TimeInterval) async throws {
            try await store.revokeToken(jti: jti, tenantID: UUID(), expiresAt: now.addingTimeInterval(seconds), revokedAt: now)
        }

        var now: Date { RevocationListTests.now }

        func cleanup() { try? FileManager.default.removeItem(at: directory) }
    }

    @Test func loadsTheStoredDenylistAndAnswersWithoutTheStore() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        try await fixture.revokeInStore("stored", expiresIn: 600)
        try await fixture.revokeInStore("expired", expiresIn: -600)
        try await fixture.list.load(now: fixture.now)
        #expect(fixture.list.isLoaded)

        try await fixture.list.revokeToken(jti: "new", tenantID: UUID(), expiresAt: fixture.now.addingTimeInterval(60), revokedAt: fixture.now)
        fixture.store.down.withLock { $0 = true }
        #expect(try await fixture.list.isTokenRevoked(jti: "stored"))
        #expect(try await fixture.list.isTokenRevoked(jti: "new"))
        #expect(try await fixture.list.isTokenRevoked(jti: "other") == false)
        // The entry whose token had expired was not loaded: the list answers from
        // memory (the store is down) that it is not revoked...
        #expect(try await fixture.list.isTokenRevoked(jti: "expired") == false)
        // The store is the record: the revocation made through the list is in it.
        fixture.store.down.withLock { $0 = false }
        #expect(try await fixture.store.isTokenRevoked(jti: "new"))
        // ...while the store still holds it until a purge: the load left it out.
        #expect(try await fixture.store.isTokenRevoked(jti: "expired"))
        #expect(try await fixture.store.revokedTokens(expiringAfter: fixture.now, limit: 10).map(\.jti).sorted() == ["new", "stored"])
    }

    @Test func aRevocationTheStoreRefusesIsNotRemembered() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        try await fixture.list.load(now: fixture.now)
        fixture.store.down.withLock { $0 = true }
        await #expect(throws: StoreError.self) {
            try await fixture.list.revokeToken(jti: "lost", tenantID: UUID(), expiresAt: fixture.now.addingTimeInterval(60), revokedAt: fixture.now)
        }
        #expect(try await fixture.list.isTokenRevoked(jti: "lost") == false)
    }

    @Test func aLoadTheStoreRefusesLeavesChecksToTheStore() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        try await fixture.revokeInStore("stored", expiresIn: 600)
        fixture.store.down.withLock { $0 = true }
        await #expect(throws: StoreError.self) { try await fixture.list.load(now: fixture.now) }
        #expect(fixture.list.isLoaded == false)
        fixture.store.down.withLock { $0 = false }
        #expect(try await fixture.list.isTokenRevoked(jti: "stored"))
        // The next load succeeds and answers from memory.
        try await fixture.list.load(now: fixture.now)
        fixture.store.down.withLock { $0 = true }
        #expect(try await fixture.list.isTokenRevoked(jti: "stored"))
    }

    @Test func purgingForgetsExpiredEntriesInMemoryToo() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        try await fixture.list.load(now: fixture.now)
        try await fixture.list.revokeToken(jti: "short", tenantID: UUID(), expiresAt: fixture.now.addingTimeInterval(60), revokedAt: fixture.now)
        try await fixture.list.revokeToken(jti: "long", tenantID: UUID(), expiresAt: fixture.now.addingTimeInterval(600), revokedAt: fixture.now)
        #expect(try await fixture.list.purgeRevokedTokens(expiredBefore: fixture.now.addingTimeInterval(120)) == 1)
        fixture.store.down.withLock { $0 = true }
        #expect(try await fixture.list.isTokenRevoked(jti: "short") == false)
        #expect(try await fixture.list.isTokenRevoked(jti: "long"))
    }

    @Test func overCapacityChecksReadTheStoreUntilAPurgeBringsItBack() async throws {
        let fixture = try Fixture(capacity: 2)
        defer { fixture.cleanup() }
        for index in 0..<3 { try await fixture.revokeInStore("t\(index)", expiresIn: TimeInterval(60 * (index + 1))) }
        try await fixture.list.load(now: fixture.now)
        #expect(fixture.list.isLoaded == false)
        #expect(try await fixture.list.isTokenRevoked(jti: "t2"))
        fixture.store.down.withLock { $0 = true }
        await #expect(throws: StoreError.self) { try await fixture.list.isTokenRevoked(jti: "t2") }
        fixture.store.down.withLock { $0 = false }

        // One entry expires: two remain, which fit.
        #expect(try await fixture.list.purgeRevokedTokens(expiredBefore: fixture.now.addingTimeInterval(90)) == 1)
        #expect(fixture.list.isLoaded)
        fixture.store.down.withLock { $0 = true }
        #expect(try await fixture.list.isTokenRevoked(jti: "t1"))
        #expect(try await fixture.list.isTokenRevoked(jti: "t0") == false)
        fixture.store.down.withLock { $0 = false }

        // A third revocation through the list overflows it again.
        try await fixture.list.revokeToken(jti: "t3", tenantID: UUID(), expiresAt: fixture.now.addingTimeInterval(900), revokedAt: fixture.now)
        #expect(fixture.list.isLoaded == false)
        #expect(try await fixture.list.isTokenRevoked(jti: "t3"))
    }

    /// Holds a load's read of the store until released, as a slow read would.
    final class HeldRead: RevocationStorage {
        let base: any RevocationStorage
        let read = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()

        init(_ base: any RevocationStorage) { self.base = base }

        func revokedTokens(expiringAfter date: Date, limit: Int) async throws -> [(jti: String, expiresAt: Date)] {
            let rows = try await base.revokedTokens(expiringAfter: date, limit: limit)
            read.continuation.yield()
            for await _ in release.stream { break }
            return rows
        }
        func revokeToken(jti: String, tenantID: UUID, expiresAt: Date, revokedAt: Date) async throws {
            try await base.revokeToken(jti: jti, tenantID: tenantID, expiresAt: expiresAt, revokedAt: revokedAt)
        }
        func isTokenRevoked(jti: String) async throws -> Bool { try await base.isTokenRevoked(jti: jti) }
        func purgeRevokedTokens(expiredBefore date: Date) async throws -> Int { try await base.purgeRevokedTokens(expiredBefore: date) }
    }

    /// The race forced and run again and again: a revocation made between a
    /// load's read and its return always survives the load.
    @Test func aRevocationMadeWhileALoadReadsTheStoreIsKept() async throws {
        let fixture = try Fixture()
        defer { fixture.cleanup() }
        let held = HeldRead(fixture.store)
        let list = RevocationList(storage: held)
        try await fixture.revokeInStore("before", expiresIn: 600)
        for round in 0..<25 {
            let loading = Task { try await list.load(now: fixture.now) }
            for await _ in held.read.stream { break }
            // The load has read the store already; this revocation is not in what it read.
            try await list.revokeToken(jti: "during-\(round)", tenantID: UUID(), expiresAt: fixture.now.addingTimeInterval(600), revokedAt: fixture.now)
            held.release.continuation.yield()
            try await loading.value

            #expect(list.isLoaded)
            fixture.store.down.withLock { $0 = true }
            #expect(try await list.isTokenRevoked(jti: "before"))
            for earlier in 0...round { #expect(try await list.isTokenRevoked(jti: "during-\(earlier)"), "round \(round)") }
            fixture.store.down.withLock { $0 = false }
        }
    }

    @Test func tesseraPutsAListInFrontOfTheEmbeddedStore() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let list = try #require(harness.tessera.revocations as? RevocationList)
        #expect(list.isLoaded)
    }
}
