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

    /// A read that would run for minutes is interrupted when its task is cancelled,
    /// and a quick read meanwhile is answered at once.
    @Test func aCancelledReadIsInterruptedAndOthersGoOn() async throws {
        let (storage, cleanup) = try Self.store()
        defer { cleanup() }
        let started = Date()
        let slow = Task {
            try await storage.read { db in
                try Int.fetchOne(
                    db, sql: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 10000000000) SELECT count(*) FROM c")
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await storage.read { db in try Int.fetchOne(db, sql: "SELECT 42") } == 42)
        slow.cancel()
        await #expect(throws: StoreError.self) { try await slow.value }
        #expect(Date().timeIntervalSince(started) < 10)
    }
}
