import ArgumentParser
import TesseraCore
import TesseraPostgres
import TesseraSQLite

/// `tessera migrate`: brings the database's schema up to this build and says
/// what it did. Safe while other replicas serve: an advisory lock makes
/// concurrent runs apply each step once.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the database migrations this build needs (serve also does, unless --no-migrate)."
    )

    @OptionGroup var store: StoreOptions

    func run() async throws {
        Logs.bootstrap(level: store.logLevel)
        let storage = try await store.openStorage(migrate: false, checkSchema: false)
        switch storage {
        case let postgres as PostgresStorage:
            defer { postgres.shutdown() }
            let applied = try await postgres.migrate()
            print(
                applied.isEmpty ? "already up to date (\(PostgresStorage.migrationIDs.joined(separator: ", ")))" : "applied \(applied.joined(separator: ", "))")
        case let sqlite as SQLiteStorage:
            // SQLite migrates as it opens.
            print("up to date (\(try sqlite.appliedMigrations().joined(separator: ", ")))")
        default:
            throw ValidationError("unknown store")
        }
    }
}
