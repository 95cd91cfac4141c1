/// The PostgreSQL store's class: the connection pool, its configuration, health, and the query and transaction helpers every aggregate goes through.

import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization
import TesseraCore
import TesseraJOSE

/// The PostgreSQL store, shared by several Tessera replicas (docs/ARCHITECTURE.md §1).
///
/// Every write is one transaction; writes that change what a cache holds also
/// `NOTIFY` the channel ``channel`` in that transaction, so every replica hears of
/// a change exactly when it is committed (``followChanges(_:)``). Numbers come
/// from sequences; per-tenant and per-account limits hold under concurrency by
/// locking the owning row first. Times are stored as seconds since 1970 in
/// `double precision`, as in the SQLite store, so both give back the same `Date`s.
public final class PostgresStorage: Storage, ChangeFeed {
    /// The `LISTEN/NOTIFY` channel for cache invalidation.
    public static let channel = "tessera_changes"
    /// The advisory lock that serialises signing-key rotation across replicas.
    static let rotationLock: Int64 = 0x7465_7373_6572_61  // "tessera"
    /// The advisory lock that serialises migrations across replicas.
    static let migrationLock: Int64 = rotationLock + 1

    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

    /// Connects a pool to `url` (`postgres://user:password@host:port/database?sslmode=…`,
    /// sslmode `disable`, `prefer` (the default) or `require`). The pool connects
    /// lazily and reconnects by itself; nothing is queried until a call is made.
    public init(url: String, logger: Logger = Logger(label: "tessera.postgres")) throws {
        let configuration = try Self.configuration(url)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        // PostgresClient leases connections only while its run() is running.
        runner = Task { await client.run() }
    }

    deinit {
        runner.cancel()
    }

    /// Closes the pool.
    public func shutdown() {
        runner.cancel()
    }

    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty
        else {
            throw StoreError.unavailable("the database URL must look like postgres://user:password@host:5432/database")
        }
        guard let user = components.user, !user.isEmpty else {
            throw StoreError.unavailable("the database URL must name a user: postgres://user@host/database")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw StoreError.unavailable("sslmode must be disable, prefer or require")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 }, database: database.isEmpty ? nil : database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    // MARK: Health

    public func ping() async throws {
        _ = try await query("SELECT 1 AS one")
    }

    // MARK: Access

    /// How long a call may wait for the database, a connection included: while
    /// PostgreSQL is down the pool would wait for a connection indefinitely, and
    /// callers must get `unavailable` (503) instead.
    static let deadline: Duration = .seconds(5)

    /// How long a migration may take, waiting for another replica's included: it
    /// is not a request, and on a large database a step can take minutes.
    static let migrationDeadline: Duration = .seconds(900)

    /// One statement on a pooled connection; its rows, collected.
    func query(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        do {
            return try await Self.bounded { [client, logger] in
                try await client.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
            }
        } catch {
            throw Self.translate(error)
        }
    }

    /// Runs `body`, or throws `unavailable` once ``deadline`` passes (cancelling it).
    ///
    /// The caller is answered at the deadline even if `body` ignores its
    /// cancellation: a query sent as the server shuts down can wait on a
    /// connection that never answers, and a task group would wait for it forever
    /// (its scope awaits every child), holding the request and the shutdown. The
    /// abandoned work is cancelled and finishes on its own.
    static func bounded<T: Sendable>(
        deadline: Duration = deadline, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let work = Task { try await body() }
        let answered = FirstAnswer()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                @Sendable func answer(_ result: Result<T, any Error>) {
                    guard answered.claim() else { return }
                    continuation.resume(with: result)
                }
                let timer = Task {
                    try? await Task.sleep(for: deadline)
                    guard !Task.isCancelled else { return }
                    work.cancel()
                    answer(.failure(StoreError.unavailable("PostgreSQL did not answer within \(deadline)")))
                }
                Task {
                    let result = await work.result
                    timer.cancel()
                    answer(result)
                }
            }
        } onCancel: {
            work.cancel()
        }
    }

    func rows(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    /// Runs `body` in one transaction on one connection: committed when it returns,
    /// rolled back when it throws, so a failed write never half-applies. It is
    /// given up as `unavailable` after `deadline`.
    @discardableResult
    func transaction<T: Sendable>(
        deadline: Duration = deadline, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        do {
            return try await Self.bounded(deadline: deadline) { try await self.run(body) }
        } catch {
            throw Self.translate(error)
        }
    }

    private func run<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: self.logger)
                let value: T
                do {
                    value = try await body(connection)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: self.logger)
                    throw error
                }
                try await connection.query("COMMIT", logger: self.logger)
                return value
            }
        } catch {
            throw Self.translate(error)
        }
    }

    static func translate(_ error: any Error) -> any Error {
        if error is StoreError || error is CancellationError { return error }
        if let error = error as? PSQLError {
            switch error.serverInfo?[.sqlState] {
            case PostgresError.Code.uniqueViolation.raw: return StoreError.conflict("a unique value is already taken")
            case PostgresError.Code.foreignKeyViolation.raw: return StoreError.notFound("a referenced row does not exist")
            case let state?: return StoreError.unavailable("PostgreSQL error \(state)")
            case nil: return StoreError.unavailable("PostgreSQL is unreachable (\(error.code))")
            }
        }
        return StoreError.unavailable("PostgreSQL failed: \(String(describing: type(of: error)))")
    }
}

/// Lets exactly one of several racing tasks answer a continuation.
private final class FirstAnswer: Sendable {
    private let claimed = Mutex(false)

    /// `true` for the first caller only.
    func claim() -> Bool {
        claimed.withLock { done in
            defer { done = true }
            return !done
        }
    }
}
