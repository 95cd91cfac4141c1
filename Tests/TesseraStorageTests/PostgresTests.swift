import Foundation
import Synchronization
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraPostgres

/// What only the PostgreSQL store does: migrations as a command, the change feed,
/// and limits and rotation that hold when several replicas write at once.
// Under `CI` the suite always runs, so a missing server fails instead of skipping.
@Suite(
    .enabled(
        if: ProcessInfo.processInfo.environment["TESSERA_TEST_POSTGRES_URL"] != nil || ProcessInfo.processInfo.environment["CI"] != nil,
        "needs TESSERA_TEST_POSTGRES_URL"
    ))
struct PostgresTests {
    static func fresh(migrated: Bool = true) async throws -> PostgresStorage {
        let url = try #require(ProcessInfo.processInfo.environment["TESSERA_TEST_POSTGRES_URL"])
        let storage = try PostgresStorage(url: try await TestDatabase.create(on: url))
        if migrated { try await storage.migrate() }
        return storage
    }

    @Test func migrationsApplyOnceAndAreListed() async throws {
        let storage = try await Self.fresh(migrated: false)
        defer { storage.shutdown() }
        #expect(try await storage.appliedMigrations() == [])
        #expect(try await storage.migrate() == PostgresStorage.migrationIDs)
        #expect(try await storage.migrate() == [])
        #expect(try await storage.appliedMigrations() == PostgresStorage.migrationIDs)
    }

    @Test func concurrentMigrationsOfOneDatabaseApplyEachStepOnce() async throws {
        let first = try await Self.fresh(migrated: false)
        defer { first.shutdown() }
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<4 { group.addTask { try await first.migrate() } }
            return try await group.reduce(into: [[String]]()) { $0.append($1) }
        }
        #expect(results.flatMap { $0 } == PostgresStorage.migrationIDs)
    }

    /// A migration that waits for another replica's (the lock held here past the
    /// deadline of an ordinary call) still applies once that one is done: a
    /// migration is not a request, and on a large database it takes its time.
    @Test func aMigrationWaitsForAnotherPastTheRequestDeadline() async throws {
        let storage = try await Self.fresh(migrated: false)
        defer { storage.shutdown() }
        let (held, holding) = AsyncStream.makeStream(of: Void.self)
        let holder = Task {
            try await storage.client.withConnection { connection in
                try await connection.query("SELECT pg_advisory_lock(\(PostgresStorage.migrationLock))", logger: storage.logger)
                holding.yield()
                try await Task.sleep(for: PostgresStorage.deadline + .seconds(1))
                try await connection.query("SELECT pg_advisory_unlock(\(PostgresStorage.migrationLock))", logger: storage.logger)
            }
        }
        for await _ in held { break }
        #expect(try await storage.migrate() == PostgresStorage.migrationIDs)
        try await holder.value
    }

    @Test func theChangeFeedReportsCommittedChanges() async throws {
        let storage = try await Self.fresh()
        defer { storage.shutdown() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme"), roles: Role.defaultCatalogue)
        let (account, secret) = Fixtures.account(in: tenant, name: "worker")
        let received = Mutex<[StoreChange]>([])
        let listener = Task {
            try await storage.followChanges { change in received.withLock { $0.append(change) } }
        }
        defer { listener.cancel() }
        try await waitUntil { received.withLock { $0 } == [.everything] }

        _ = try await storage.createServiceAccount(account, secret: secret, limit: nil)
        var disabled = account
        disabled.status = .disabled
        try await storage.updateServiceAccount(disabled)
        try await storage.updateRole(Role(name: "admin", scopes: ["x"]), tenantID: tenant.id)
        // A failed write notifies nobody: the transaction rolled back with its NOTIFY.
        await #expect(throws: StoreError.self) { try await storage.updateRole(Role(name: "missing", scopes: []), tenantID: tenant.id) }
        _ = try await storage.insertSigningKey(try Fixtures.signingKey(state: .active))

        try await waitUntil { received.withLock { $0.count } == 5 }
        #expect(received.withLock { $0 } == [.everything, .client(account.clientID), .client(account.clientID), .everything, .signingKeys])
    }

    @Test func theAccountLimitHoldsUnderConcurrentCreation() async throws {
        let storage = try await Self.fresh()
        defer { storage.shutdown() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme", limit: 3), roles: [])
        let outcomes = await withTaskGroup(of: Result<ServiceAccount, any Error>.self) { group in
            for index in 0..<12 {
                group.addTask {
                    let (account, secret) = Fixtures.account(in: tenant, name: "worker-\(index)")
                    do {
                        return .success(try await storage.createServiceAccount(account, secret: secret, limit: 3))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            return await group.reduce(into: [Result<ServiceAccount, any Error>]()) { $0.append($1) }
        }
        var created: [ServiceAccount] = [], refusals: [any Error] = []
        for outcome in outcomes {
            switch outcome {
            case .success(let account): created.append(account)
            case .failure(let error): refusals.append(error)
            }
        }
        #expect(created.count == 3)
        #expect(refusals.count == 9)
        // Every refusal is the limit, not a timeout, a serialization failure or a lost connection.
        for error in refusals {
            #expect((error as? StoreError)?.isLimitReached == true, "\(String(reflecting: error))")
        }
        #expect(try await storage.countServiceAccounts(tenantID: tenant.id) == 3)
        #expect(Set(created.map(\.number)).count == 3)
    }

    @Test func ofConcurrentRotationsExactlyOneStoresItsNextKey() async throws {
        let storage = try await Self.fresh()
        defer { storage.shutdown() }
        let outcomes = await withTaskGroup(of: Result<Bool, any Error>.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    do {
                        return .success(try await storage.insertSigningKey(try Fixtures.signingKey(state: .next)))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            return await group.reduce(into: [Result<Bool, any Error>]()) { $0.append($1) }
        }
        // Losing the race is an answer (false), never an error.
        var stored: [Bool] = []
        for outcome in outcomes {
            switch outcome {
            case .success(let inserted): stored.append(inserted)
            case .failure(let error): Issue.record("a concurrent rotation failed: \(String(reflecting: error))")
            }
        }
        #expect(stored.count == 6)
        #expect(stored.filter { $0 }.count == 1)
        #expect(try await storage.signingKeys().filter { $0.state == .next }.count == 1)
    }

    @Test func anUnreachableServerIsUnavailableWithinTheDeadline() async throws {
        // A port nothing listens on: the pool keeps failing to connect.
        let storage = try PostgresStorage(url: "postgres://tessera@127.0.0.1:1/tessera?sslmode=disable")
        defer { storage.shutdown() }
        let started = ContinuousClock.now
        let error = await #expect(throws: StoreError.self) { try await storage.ping() }
        #expect(error?.isUnavailable == true)
        // The deadline is 5 s; the margin is for a loaded CI machine. Without the
        // deadline the call would wait for a connection forever.
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func badURLsAreExplained() {
        #expect(throws: StoreError.self) { try PostgresStorage.configuration("mysql://x@y/z") }
        #expect(throws: StoreError.self) { try PostgresStorage.configuration("postgres://host/db") }
        #expect(throws: StoreError.self) { try PostgresStorage.configuration("postgres://u@host/db?sslmode=sometimes") }
    }

    private func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while !condition() {
            try #require(ContinuousClock.now < deadline, "timed out")
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
