import ArgumentParser
import Foundation
import TesseraCore

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "List or rotate the issuer's signing keys.",
        subcommands: [List.self, Rotate.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the signing keys: kid, algorithm, state (next, active, retired) and dates. Never prints key material."
        )

        @OptionGroup var store: StoreOptions

        func run() async throws {
            Logs.bootstrap(level: store.logLevel)
            let storage = try await store.openStorage()
            let keys = try await storage.signingKeys()
            let rows = keys.map { key -> [String: String?] in
                [
                    "kid": key.kid, "alg": key.algorithm.rawValue, "state": key.state.rawValue,
                    "created_at": key.createdAt.formatted(.iso8601), "activates_at": key.activatesAt?.formatted(.iso8601),
                    "activated_at": key.activatedAt?.formatted(.iso8601), "retired_at": key.retiredAt?.formatted(.iso8601),
                ]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rotate the signing key without breaking verifiers that cache the JWKS.",
            discussion: """
                Without a next key, generates one (--signing-alg, else the active key's algorithm) and publishes it in the JWKS at once; it starts signing \
                once it has been published for --jwks-max-age seconds plus the 10 s running servers take to notice, and \
                running servers promote it then. With a next key that has been published that long, promotes it now: \
                it signs from then on and the old key stays published, retired, until every token it signed has expired. \
                Prints what happened as JSON. Uses the same store and key options (and environment) as `serve`.
                """
        )

        @Option(name: .customLong("jwks-max-age"), help: "The JWKS max-age the servers use, in seconds (env TESSERA_JWKS_MAX_AGE; default 300).")
        var jwksMaxAge: Int?

        @OptionGroup var store: StoreOptions

        func run() async throws {
            Logs.bootstrap(level: store.logLevel)
            let maxAge = jwksMaxAge ?? Env.value("TESSERA_JWKS_MAX_AGE").flatMap(Int.init) ?? 300
            guard maxAge >= 0 else { throw ValidationError("--jwks-max-age must not be negative") }
            let tessera = Tessera(issuer: "http://localhost", storage: try await store.openStorage(), masterKey: try store.masterKey())
            try await tessera.start(signingAlgorithm: try store.signingAlgorithm())
            let algorithm = try store.explicitSigningAlgorithm() ?? tessera.keyRing.snapshot?.active.algorithm ?? .es256
            let change = try await tessera.keyRing.rotate(algorithm: algorithm, publishAhead: TimeInterval(maxAge + 10), now: tessera.dependencies.now())
            await tessera.audit([change], actor: "cli")
            var result: [String: String] = ["kid": change.kid]
            switch change {
            case .scheduled(_, let at):
                result["result"] = "scheduled"
                result["activates_at"] = at.formatted(.iso8601)
            case .pending(_, let at):
                result["result"] = "pending"
                result["activates_at"] = at.formatted(.iso8601)
            case .promoted:
                result["result"] = "promoted"
            case .removed:
                result["result"] = "removed"
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        }
    }
}
