import Foundation
import GRDB
import Synchronization
import TesseraCore
import Testing

@testable import TesseraSQLite

/// `SQLiteStorage.read` runs GRDB's blocking reads on threads of its own: as many
/// reads run at once as there are reader connections, a slow read does not hold
/// the others up, and a cancelled read stops.
@Suite(.timeLimit(.minutes(1))) struct SQLiteReadTests {
    /// How many reads have arrived, shared by the reads of one test.
    final class Arrivals: Sendable {
        let count = Atomic<Int>(0)
    }

    static func store() throws -> (SQLiteStorage, cleanup: () -> Void) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-reads-\(UUID().uuidString)")
        let storage = try SQLiteStorage(path: directory.appendingPathComponent("tessera.sqlite").path)
        return (storage, { try? FileManager.default.removeItem(at: directory) })
    }

    /// Every reader connection can be busy at once: each read waits, on its thread,
    /// until all of them are inside, which only happens if none waits for another to end.
    @Test func asManyReadsRunAtOnceAsThereAreReaderConnections() async throws {
        let (storage, cleanup) = try Self.store()
        defer { cleanup() }
        let readers = Configuration().maximumReaderCount
        #expect(readers == 5)
        let inside = Arrivals()
        // Each read answers its own query and whether it saw every read inside.
        let answers = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<readers {
                group.addTask {
                    try await storage.read { db in
                        inside.count.add(1, ordering: .sequentiallyConsistent)
                        let deadline = Date().addingTimeInterval(5)
                        while inside.count.load(ordering: .sequentiallyConsistent) < readers, Date() < deadline { usleep(1_000) }
                        let together = inside.count.load(ordering: .sequentiallyConsistent) == readers
                        return (try Int.fetchOne(db, sql: "SELECT ? + 1", arguments: [index]) ?? -1, together)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.map(\.0).sorted() == Array(1...readers))
        #expect(answers.filter { !$0.1 }.isEmpty, "a read ran while another waited for its thread")
    }

    /// A read that would run for minutes is interrupted when its task is cancelled
    /// and ends as a cancelled task does, while a quick read meanwhile is answered.
    @Test func aCancelledReadIsInterruptedAndOthersGoOn() async throws {
        let (storage, cleanup) = try Self.store()
        defer { cleanup() }
        // Should the interrupt be lost, GRDB's own ends the query, and the time check fails.
        let safetyNet = Task {
            try await Task.sleep(for: .seconds(20))
            storage.pool.interrupt()
        }
        defer { safetyNet.cancel() }
        let started = Date()
        let running = Arrivals()
        let slow = Task {
            try await storage.read { db in
                running.count.add(1, ordering: .sequentiallyConsistent)
                return try Int.fetchOne(
                    db, sql: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 10000000000) SELECT count(*) FROM c")
            }
        }
        while running.count.load(ordering: .sequentiallyConsistent) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try await storage.read { db in try Int.fetchOne(db, sql: "SELECT 42") } == 42)
        slow.cancel()
        await #expect(throws: CancellationError.self) { try await slow.value }
        #expect(Date().timeIntervalSince(started) < 15)
    }

    /// A read cancelled while it waits for a thread never runs: with every thread held,
    /// the sixth read is cancelled, the others let go, and its body is never called.
    @Test func aReadCancelledBeforeItRunsNeverRuns() async throws {
        let (storage, cleanup) = try Self.store()
        defer { cleanup() }
        let readers = Configuration().maximumReaderCount
        let inside = Arrivals(), release = Arrivals(), ranLate = Arrivals()
        let holders = (0..<readers).map { _ in
            Task {
                try await storage.read { _ in
                    inside.count.add(1, ordering: .sequentiallyConsistent)
                    while release.count.load(ordering: .sequentiallyConsistent) == 0 { usleep(1_000) }
                }
            }
        }
        while inside.count.load(ordering: .sequentiallyConsistent) < readers { try await Task.sleep(for: .milliseconds(5)) }
        let late = Task { try await storage.read { _ in ranLate.count.add(1, ordering: .sequentiallyConsistent) } }
        try await Task.sleep(for: .milliseconds(50))
        late.cancel()
        release.count.store(1, ordering: .sequentiallyConsistent)
        for holder in holders { try await holder.value }
        await #expect(throws: CancellationError.self) { try await late.value }
        #expect(ranLate.count.load(ordering: .sequentiallyConsistent) == 0)
    }

    /// A stored account row that is not what Tessera writes (an unknown status, an id
    /// that is no UUID) is refused as a store error when read by position, never
    /// turned into a made-up account.
    @Test func aCorruptAccountRowIsAStoreError() async throws {
        let (storage, cleanup) = try Self.store()
        defer { cleanup() }
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let tenant = try await storage.createTenant(Tenant(id: UUID(), slug: "acme", name: "acme", createdAt: now, updatedAt: now), roles: [])
        let account = ServiceAccount(id: UUID(), tenantID: tenant.id, clientID: "tsc_corrupt", name: "corrupt", roles: [], createdAt: now, updatedAt: now)
        _ = try await storage.createServiceAccount(account, secret: nil, limit: nil)
        #expect(try await storage.credentials(clientID: "tsc_corrupt")?.account.id == account.id)

        try await storage.pool.writeWithoutTransaction { db in try db.execute(sql: "UPDATE service_accounts SET status = 'weird'") }
        await #expect(throws: StoreError.self) {
            try await storage.listServiceAccounts(tenantID: tenant.id, filter: ServiceAccountFilter(), afterNumber: nil, limit: 10)
        }
        try await storage.pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            try db.execute(sql: "UPDATE service_accounts SET status = 'active', tenant_id = 'not-a-uuid'")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        await #expect(throws: StoreError.self) { try await storage.credentials(clientID: "tsc_corrupt") }
    }
}
