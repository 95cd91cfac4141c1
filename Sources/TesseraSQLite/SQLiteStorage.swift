/// The SQLite store's class: opening the database, health and diagnostics, the read/write access helpers and what the aggregates share.

import Foundation
import GRDB
import GRDBSQLite
import NIOPosix
import Synchronization
import TesseraCore
import TesseraJOSE

/// The embedded default store: SQLite through GRDB, in WAL mode with
/// `synchronous=FULL`, so an acknowledged write survives a crash or power loss.
///
/// Statements run off the event loops: reads on threads of this type's own
/// (``read(_:)``), writes on GRDB's writer queue.
public final class SQLiteStorage: Storage {
    let pool: DatabasePool
    /// The threads reads run on (``read(_:)``): as many as the pool has reader
    /// connections, so that every reader can be busy and a slow read holds one.
    let readThreads: NIOThreadPool

    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    public init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        }
        // The file holds secret digests and sealed keys: readable by the owner only.
        // SQLite gives the -wal and -shm files the same mode.
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        readThreads = NIOThreadPool(numberOfThreads: configuration.maximumReaderCount)
        readThreads.start()
        // GRDB switches the writer to `synchronous = NORMAL` when it turns WAL on,
        // after `prepareDatabase` ran: set FULL on the writer again, where it
        // matters (every commit then syncs the WAL), and refuse to run without it.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            guard try Int.fetchOne(db, sql: "PRAGMA synchronous") == 2 else {
                throw StoreError.unavailable("SQLite refused synchronous = FULL on the writer connection")
            }
        }
        try SQLiteStorage.migrator.migrate(pool)
    }

    deinit {
        // No read is under way: each holds the store until it ends.
        readThreads.shutdownGracefully { _ in }
    }

    /// The value of a PRAGMA as text, as the writer connection (which makes every commit) sees it; for diagnostics and tests.
    func pragma(_ name: String) throws -> String? {
        try pool.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
    }

    /// A pragma as a reader connection sees it.
    func readerPragma(_ name: String) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
    }

    // MARK: Health

    public func ping() async throws {
        _ = try await read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Access

    /// Runs `body` on a reader connection, on one of ``readThreads``.
    ///
    /// GRDB's own async `read` passes each read through three dispatch queues (one
    /// that waits for a free reader, the reader's, and the release) before the task
    /// resumes: on two cores those thread hand-offs were most of the CPU of a small
    /// admin read. Its blocking `read`, called here from a thread of our own, takes a
    /// reader and runs on that thread: one hand-off there and one back. There are as
    /// many threads as GRDB keeps reader connections, so a slow read (a filtered list
    /// over a large tenant) holds one thread as it holds one connection, and the other
    /// reads go on; a read waits for a free reader on such a thread, never on an event
    /// loop. A read whose task is cancelled
    /// never starts, or is interrupted (`sqlite3_interrupt`), and throws `CancellationError`.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await read(body) { $0 }
    }

    /// Runs `body` on a reader connection as ``read(_:)`` does, then `transform` on its
    /// result, on the same thread once the connection is given back.
    ///
    /// A `body` that runs one statement may pass `singleStatement`: that statement
    /// reads one snapshot by itself, so the read skips the transaction GRDB otherwise
    /// opens and commits around it.
    func read<T, Output: Sendable>(
        singleStatement: Bool = false, _ body: @escaping @Sendable (Database) throws -> T, then transform: @escaping @Sendable (T) -> Output
    ) async throws -> Output {
        let state = Mutex(ReadState.waiting)
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    readThreads.submit { [pool] work in
                        continuation.resume(
                            with: Result {
                                // Cancelled before a thread took it (or the store is closing):
                                // it never takes a connection.
                                guard case .active = work, state.withLock({ $0.isWaiting }) else { throw CancellationError() }
                                let published = { (db: Database) throws -> T in
                                    try state.withLock { state in
                                        guard state.isWaiting else { throw CancellationError() }
                                        if let connection = db.sqliteConnection { state = .running(connection) }
                                    }
                                    // Cleared before the connection goes back: no other read is interrupted.
                                    defer { state.withLock { $0 = .done } }
                                    return try body(db)
                                }
                                return transform(try singleStatement ? pool.unsafeRead(published) : pool.read(published))
                            })
                    }
                }
            } onCancel: {
                state.withLock { state in
                    switch state {
                    case .waiting: state = .cancelled
                    case .running(let connection): sqlite3_interrupt(connection)
                    case .cancelled, .done: break
                    }
                }
            }
        } catch {
            throw Self.translate(error)
        }
    }

    /// Where a read stands, for its task's cancellation: waiting for a thread and a
    /// connection, running a statement on one (which `sqlite3_interrupt`, callable from
    /// any thread while the connection is open, stops), cancelled before it ran, or done.
    /// A cancellation between two statements of a read that runs several is not seen:
    /// only single-statement reads run long.
    private enum ReadState: @unchecked Sendable {
        case waiting
        case running(SQLiteConnection)
        case cancelled
        case done

        var isWaiting: Bool {
            if case .waiting = self { return true }
            return false
        }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw Self.translate(error)
        }
    }

    private static func translate(_ error: any Error) -> any Error {
        if error is StoreError { return error }
        if let error = error as? DatabaseError {
            // A read stopped because its task was cancelled ends as a cancelled task does.
            if error.resultCode == .SQLITE_INTERRUPT { return CancellationError() }
            if error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE || error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
                return StoreError.conflict("a unique value is already taken")
            }
            if error.extendedResultCode == .SQLITE_CONSTRAINT_FOREIGNKEY {
                return StoreError.notFound("a referenced row does not exist")
            }
            return StoreError.unavailable("SQLite error \(error.resultCode.rawValue)")
        }
        return error
    }

    // MARK: Rows

    static func uuid(_ text: String) throws -> UUID {
        guard let id = UUID(text: text) else { throw StoreError.unavailable("stored id \"\(text)\" is not a UUID") }
        return id
    }
}

extension UUID {
    /// The lower-case text form stored in the database.
    var text: String { lowercased }
}
