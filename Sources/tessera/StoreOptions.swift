import ArgumentParser
import Foundation
import Logging
import TesseraCore
import TesseraJOSE
import TesseraPostgres
import TesseraSQLite
import TesseraServer

/// Options shared by every command that opens the store (the options table in docs/operations.md). Each falls
/// back to its environment variable, then to the default.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "sqlite:PATH or postgres://… (env TESSERA_DATABASE_URL; default sqlite:data/tessera.sqlite).")
    var databaseURLOption: String?

    @Option(name: .customLong("keys-dir"), help: "Folder of master.key (env TESSERA_KEYS_DIR; default keys).")
    var keysDirectoryOption: String?

    @Option(name: .customLong("signing-alg"), help: "ES256, EdDSA, RS256 or PS256 for a newly generated signing key (env TESSERA_SIGNING_ALG; default ES256).")
    var signingAlgorithmOption: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env LOG_LEVEL; default info).")
    var logLevelOption: String?

    var databaseURL: String { databaseURLOption ?? Env.value("TESSERA_DATABASE_URL") ?? "sqlite:data/tessera.sqlite" }
    var keysDirectory: String { keysDirectoryOption ?? Env.value("TESSERA_KEYS_DIR") ?? "keys" }

    /// The algorithm for new keys: the one given, else ES256.
    func signingAlgorithm() throws -> JWSAlgorithm {
        try explicitSigningAlgorithm() ?? .es256
    }

    /// The algorithm given by `--signing-alg` or `TESSERA_SIGNING_ALG`, if any: when
    /// neither is set, rotation keeps the active key's algorithm.
    func explicitSigningAlgorithm() throws -> JWSAlgorithm? {
        guard let text = signingAlgorithmOption ?? Env.value("TESSERA_SIGNING_ALG") else { return nil }
        guard let algorithm = JWSAlgorithm.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
            throw ValidationError("--signing-alg must be one of \(JWSAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(text)\"")
        }
        return algorithm
    }

    func validate() throws {
        _ = try signingAlgorithm()
        if let level = logLevelOption, Logger.Level(rawValue: level) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    var logLevel: Logger.Level {
        (logLevelOption ?? Env.value("LOG_LEVEL")).flatMap(Logger.Level.init(rawValue:)) ?? .info
    }

    /// Opens the store named by the database URL. SQLite migrates as it opens;
    /// PostgreSQL is migrated here unless `migrate` is false, in which case a
    /// database behind this build is refused with the command that fixes it.
    func openStorage(migrate: Bool = true, checkSchema: Bool = true) async throws -> any Storage {
        let url = databaseURL
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw ValidationError("--database-url sqlite: needs a file path, as in sqlite:data/tessera.sqlite") }
            return try SQLiteStorage(path: path)
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            let storage: PostgresStorage
            do {
                storage = try PostgresStorage(url: url, logger: Logger(label: "tessera.postgres"))
            } catch let error as StoreError {
                throw ValidationError("--database-url: \(error.message)")
            }
            if migrate {
                try await storage.migrate()
            } else if checkSchema {
                let applied = Set(try await storage.appliedMigrations())
                let missing = PostgresStorage.migrationIDs.filter { !applied.contains($0) }
                guard missing.isEmpty else {
                    throw ValidationError("the database lacks migrations \(missing.joined(separator: ", ")); run `tessera migrate` first")
                }
            }
            return storage
        }
        throw ValidationError("--database-url must start with sqlite: or postgres://, not \"\(url)\"")
    }

    func masterKey() throws -> MasterKey {
        try MasterKey.load(keysDirectory: keysDirectory, environmentValue: Env.value("TESSERA_MASTER_KEY"))
    }
}

enum Env {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}

/// Logs to standard error, so standard output carries only a command's result.
enum Logs {
    static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in TesseraLogHandler(label: label, level: level) }
    }
}
