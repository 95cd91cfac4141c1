import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import TesseraCore
import TesseraServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the token issuer and admin API.",
        discussion: """
            Serves on http://127.0.0.1:8080 by default, with the SQLite store in data/tessera.sqlite and the master key \
            in keys/master.key, all created on first start. The master key may instead come from TESSERA_MASTER_KEY \
            (32 bytes, base64). SIGTERM or SIGINT shut down gracefully.
            """
    )

    @Option(help: "Address to listen on (env TESSERA_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (env TESSERA_PORT; default 8080).")
    var port: Int?

    @Option(help: "Public URL of the issuer, used in iss and discovery (env TESSERA_ISSUER; default http://HOST:PORT).")
    var issuer: String?

    @Option(name: .customLong("jwks-max-age"), help: "Cache-Control max-age of the JWKS, in seconds (env TESSERA_JWKS_MAX_AGE; default 300).")
    var jwksMaxAge: Int?

    @Option(
        name: .customLong("key-rotation-days"),
        help: "Rotate the signing key when it has signed this many days; 0 never (env TESSERA_KEY_ROTATION_DAYS; default 30).")
    var keyRotationDays: Int?

    @Option(
        name: .customLong("auth-failure-limit"),
        help:
            "Failed client authentications of one client id from one address before it is locked out with exponential back-off; 0 turns it off (env TESSERA_AUTH_FAILURE_LIMIT; default 5)."
    )
    var authFailureLimit: Int?

    @Option(
        name: .customLong("auth-address-failure-limit"),
        help:
            "Failed client authentications from one address, any client id, before the address is locked out; 0 turns it off, as behind a proxy all callers share its address (env TESSERA_AUTH_ADDRESS_FAILURE_LIMIT; default 20)."
    )
    var authAddressFailureLimit: Int?

    @Option(
        name: .customLong("token-rate-limit"),
        help: "Tokens per second one account may obtain (a burst of as many); 0 means no limit (env TESSERA_TOKEN_RATE_LIMIT; default 0).")
    var tokenRateLimit: Double?

    @Option(
        name: .customLong("client-cache-ttl"),
        help:
            "Seconds a cached client (account, secrets, roles) is used before it is read again. Changes made through this server apply at once; this bounds how long a change by another process goes unseen (env TESSERA_CLIENT_CACHE_TTL; default 300 with SQLite, where serve is the only writer, 30 with PostgreSQL, whose change feed tells replicas within a second)."
    )
    var clientCacheTTL: Int?

    @Option(
        name: .customLong("max-assertion-lifetime"),
        help: "How far ahead, in seconds, a private_key_jwt client assertion's exp may lie (env TESSERA_MAX_ASSERTION_LIFETIME; default 3600, 60–86400).")
    var maxAssertionLifetime: Int?

    @Option(
        name: .customLong("idle-timeout"),
        help: "Seconds a kept-alive connection may wait for its next request (env TESSERA_IDLE_TIMEOUT; default 75, longer than a proxy's usual 60).")
    var idleTimeout: Int?

    @Option(
        name: .customLong("header-timeout"),
        help: "Seconds a request's head may take from its first byte, and a new connection to send one (env TESSERA_HEADER_TIMEOUT; default 10).")
    var headerTimeout: Int?

    @Option(name: .customLong("body-timeout"), help: "Seconds a request's body may take after its head (env TESSERA_BODY_TIMEOUT; default 30).")
    var bodyTimeout: Int?

    @Option(
        name: .customLong("max-connections"),
        help:
            "Open connections at most; past it the longest-waiting idle connection is closed (env TESSERA_MAX_CONNECTIONS; default 10000, or fewer when the open-file limit is lower)."
    )
    var maxConnections: Int?

    @Option(help: "Seed dialects to serve, comma-separated, or none (env TESSERA_DIALECTS; default all: rezolve,mixpanel,ctrlhub,keycard,qualytics).")
    var dialects: String?

    @Option(help: "Serve the web console at /console: on or off (env TESSERA_CONSOLE; default on when listening on a loopback address, else off).")
    var console: String?

    @Flag(
        name: .customLong("federation-allow-loopback-http"),
        help: "Let federated credentials name http:// issuers on a loopback host (env TESSERA_FEDERATION_ALLOW_LOOPBACK_HTTP=1; docs/federation.md)."
    )
    var federationAllowLoopbackHTTP = false

    @Flag(name: .customLong("no-migrate"), help: "Do not migrate a PostgreSQL database at start; refuse to start when it is behind (env TESSERA_NO_MIGRATE=1).")
    var noMigrate = false

    @Flag(
        name: .customLong("no-token-fast-path"),
        help:
            "Answer every token request through the router, never on the event loop before it (env TESSERA_NO_TOKEN_FAST_PATH=1; docs/ARCHITECTURE.md)."
    )
    var noTokenFastPath = false

    @OptionGroup var store: StoreOptions
    @OptionGroup var binding: BindingOptions

    func validate() throws {
        _ = try resolvedDialects()
        _ = try resolvedConsole(host: "127.0.0.1")
        if let port = resolvedPortOrNil(), !(0...65535).contains(port) { throw ValidationError("--port must be 0–65535") }
        if let rate = tokenRateLimit ?? Env.value("TESSERA_TOKEN_RATE_LIMIT").flatMap(Double.init), !(rate >= 0 && rate.isFinite) {
            throw ValidationError("--token-rate-limit must be 0 or a positive number")
        }
        if let ttl = clientCacheTTL ?? Env.value("TESSERA_CLIENT_CACHE_TTL").flatMap(Int.init), !(1...86_400).contains(ttl) {
            throw ValidationError("--client-cache-ttl must be 1–86400 seconds")
        }
        for limit in [authFailureLimit, authAddressFailureLimit].compactMap({ $0 }) where limit < 0 {
            throw ValidationError("failure limits must not be negative (0 turns a limit off)")
        }
        if let days = keyRotationDays ?? Env.value("TESSERA_KEY_ROTATION_DAYS").flatMap(Int.init), days < 0 {
            throw ValidationError("--key-rotation-days must not be negative")
        }
        if let maxAge = jwksMaxAge ?? Env.value("TESSERA_JWKS_MAX_AGE").flatMap(Int.init), maxAge < 0 {
            throw ValidationError("--jwks-max-age must not be negative")
        }
        if let lifetime = maxAssertionLifetime ?? Env.value("TESSERA_MAX_ASSERTION_LIFETIME").flatMap(Int.init), !(60...86_400).contains(lifetime) {
            throw ValidationError("--max-assertion-lifetime must be 60–86400 seconds")
        }
        for (name, value, variable) in [
            ("--idle-timeout", idleTimeout, "TESSERA_IDLE_TIMEOUT"), ("--header-timeout", headerTimeout, "TESSERA_HEADER_TIMEOUT"),
            ("--body-timeout", bodyTimeout, "TESSERA_BODY_TIMEOUT"),
        ] {
            if let seconds = value ?? Env.value(variable).flatMap(Int.init), !(1...3600).contains(seconds) {
                throw ValidationError("\(name) must be 1–3600 seconds")
            }
        }
        if let connections = maxConnections ?? Env.value("TESSERA_MAX_CONNECTIONS").flatMap(Int.init), !(1...1_000_000).contains(connections) {
            throw ValidationError("--max-connections must be 1–1000000")
        }
        if let issuer = issuer ?? Env.value("TESSERA_ISSUER") {
            guard let url = URL(string: issuer), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("--issuer must be an absolute http or https URL")
            }
        }
    }

    private func resolvedPortOrNil() -> Int? { port ?? Env.value("TESSERA_PORT").flatMap(Int.init) }

    /// --console or TESSERA_CONSOLE; without either, on for a loopback `host` only,
    /// so that a server listening on a network serves no admin page unless asked to.
    private func resolvedConsole(host: String) throws -> Bool {
        guard let text = console ?? Env.value("TESSERA_CONSOLE") else {
            return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.hasPrefix("127.")
        }
        switch text.lowercased() {
        case "on", "true", "1", "yes": return true
        case "off", "false", "0", "no": return false
        default: throw ValidationError("--console must be on or off, not \"\(text)\"")
        }
    }

    /// The dialects named by --dialects or TESSERA_DIALECTS; all when neither is set.
    private func resolvedDialects() throws -> Set<Dialect> {
        guard let text = dialects ?? Env.value("TESSERA_DIALECTS") else { return Set(Dialect.allCases) }
        if text.lowercased() == "none" { return [] }
        return Set(
            try text.split(separator: ",").map { name in
                let trimmed = name.trimmingCharacters(in: .whitespaces).lowercased()
                guard let dialect = Dialect(rawValue: trimmed) else {
                    throw ValidationError("unknown dialect \"\(trimmed)\"; known: \(Dialect.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return dialect
            })
    }

    func run() async throws {
        // Run Swift concurrency's global executor on NIO's event loops (the ones
        // Hummingbird serves on), so a request's handler and its socket share a
        // thread instead of hopping between two pools: about a fifth less CPU per
        // token (Benchmarks/README.md). Must come before `serve` starts any task;
        // nothing it runs afterwards blocks a thread (SQLite works on GRDB's own
        // queues, PostgresNIO on the event loops).
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        Logs.bootstrap(level: store.logLevel)
        let logger = Logger(label: "tessera")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let host = host ?? Env.value("TESSERA_HOST") ?? "127.0.0.1"
        let port = resolvedPortOrNil() ?? 8080
        let displayHost = host.contains(":") ? "[\(host)]" : host
        let scheme = binding.certificatePath == nil ? "http" : "https"
        let issuer = issuer ?? Env.value("TESSERA_ISSUER") ?? "\(scheme)://\(displayHost):\(port)"
        let jwksMaxAge = jwksMaxAge ?? Env.value("TESSERA_JWKS_MAX_AGE").flatMap(Int.init) ?? 300

        let rotationDays = keyRotationDays ?? Env.value("TESSERA_KEY_ROTATION_DAYS").flatMap(Int.init) ?? 30
        let rateLimit = tokenRateLimit ?? Env.value("TESSERA_TOKEN_RATE_LIMIT").flatMap(Double.init) ?? 0
        var throttle = AuthenticationThrottle.Policy()
        let clientLimit = authFailureLimit ?? Env.value("TESSERA_AUTH_FAILURE_LIMIT").flatMap(Int.init) ?? throttle.clientFailures
        let addressLimit = authAddressFailureLimit ?? Env.value("TESSERA_AUTH_ADDRESS_FAILURE_LIMIT").flatMap(Int.init) ?? throttle.addressFailures
        throttle.clientFailures = clientLimit > 0 ? clientLimit : .max
        throttle.addressFailures = addressLimit > 0 ? addressLimit : .max
        let tessera: Tessera
        do {
            let storage = try await store.openStorage(migrate: !(noMigrate || Env.value("TESSERA_NO_MIGRATE") == "1"))
            let ttl = clientCacheTTL ?? Env.value("TESSERA_CLIENT_CACHE_TTL").flatMap(Int.init) ?? (storage is any ChangeFeed ? 30 : 300)
            tessera = Tessera(
                issuer: issuer, storage: storage, masterKey: try store.masterKey(), clientCacheTTL: TimeInterval(ttl),
                throttle: clientLimit > 0 || addressLimit > 0 ? throttle : nil,
                tokenRateLimit: rateLimit > 0 ? rateLimit : nil,
                maximumAssertionLifetime: Int64(
                    maxAssertionLifetime ?? Env.value("TESSERA_MAX_ASSERTION_LIFETIME").flatMap(Int.init)
                        ?? Int(ClientAssertion.defaultMaximumLifetime)
                ),
                federationPolicy: FederationURLPolicy(
                    allowsLoopbackHTTP: federationAllowLoopbackHTTP || Env.value("TESSERA_FEDERATION_ALLOW_LOOPBACK_HTTP") == "1"),
                federationFetch: FederationFetch.fetch,
                dpopNonces: binding.nonces, dpopProofMaximumAge: Int64(binding.proofMaxAge)
            )
            try await tessera.start(signingAlgorithm: try store.signingAlgorithm())
        } catch let error as ValidationError {
            throw error
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        guard let active = tessera.keyRing.snapshot?.active else { throw ExitCode.failure }
        logger.info("signing key loaded", metadata: ["kid": "\(active.keyID)", "alg": "\(active.algorithm.rawValue)"])
        let keyPolicy = KeyPolicy(
            algorithm: try store.explicitSigningAlgorithm() ?? active.algorithm, publishAhead: TimeInterval(jwksMaxAge + 10),
            rotationPeriod: rotationDays > 0 ? TimeInterval(rotationDays) * 86_400 : nil
        )
        let connections = connectionLimits(logger: logger)
        let tls = try binding.tls(logger: logger)
        var configuration = TesseraHTTP.Configuration(
            host: host, port: port, jwksMaxAge: jwksMaxAge, keyPolicy: keyPolicy, dialects: try resolvedDialects(),
            connections: connections, console: try resolvedConsole(host: host), tls: tls?.0,
            clientCertificates: try binding.clientCertificates(), trustedProxies: try binding.trusted()
        )
        configuration.tokenFastPath = !(noTokenFastPath || Env.value("TESSERA_NO_TOKEN_FAST_PATH") == "1")
        let app = try TesseraHTTP.application(
            tessera: tessera,
            configuration: configuration,
            metrics: registry,
            logger: logger,
            onServerRunning: { port in logger.info("tessera serving", metadata: ["issuer": "\(issuer)", "port": "\(port)"]) },
            services: tls.map { [$0.1] } ?? []
        )
        try await app.runService()
    }

    /// The connection deadlines and limit from the options. The open-file limit is
    /// raised to its hard limit first; the connection limit stays 128 below it,
    /// so the store, the listener and the logs always have descriptors left.
    private func connectionLimits(logger: Logger) -> ConnectionLimits {
        func seconds(_ value: Int?, _ variable: String, _ fallback: TimeAmount) -> TimeAmount {
            (value ?? Env.value(variable).flatMap(Int.init)).map { .seconds(Int64($0)) } ?? fallback
        }
        var files = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
        if files.rlim_cur < files.rlim_max {
            var raised = files
            raised.rlim_cur = files.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { files = raised }
        }
        let available = files.rlim_cur > 1 << 30 ? 1 << 30 : Int(files.rlim_cur)
        let ceiling = max(16, available - 128)
        let requested = maxConnections ?? Env.value("TESSERA_MAX_CONNECTIONS").flatMap(Int.init) ?? ConnectionLimits.defaultMaximumConnections
        if requested > ceiling {
            logger.notice("connection limit lowered to fit the open-file limit", metadata: ["requested": "\(requested)", "limit": "\(ceiling)"])
        }
        return ConnectionLimits(
            idleTimeout: seconds(idleTimeout, "TESSERA_IDLE_TIMEOUT", ConnectionLimits.defaultIdleTimeout),
            headerTimeout: seconds(headerTimeout, "TESSERA_HEADER_TIMEOUT", ConnectionLimits.defaultHeaderTimeout),
            bodyTimeout: seconds(bodyTimeout, "TESSERA_BODY_TIMEOUT", ConnectionLimits.defaultBodyTimeout),
            maximumConnections: min(requested, ceiling)
        )
    }
}
