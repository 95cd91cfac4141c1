// swift-tools-version:6.1
import PackageDescription

// CI builds the package once, in release with testing enabled, and that one build serves
// `swift test` (whose suites `@testable import` Tessera's modules), the interop and browser
// suites, the Docker steps and the benchmarks (docs/ci.md). `.ci/run` sets
// TESSERA_TESTABLE_RELEASE=1, which adds `-enable-testing` to Tessera's own targets in
// release; a release build without it is the one users and the Docker image get.
let testableRelease = Context.environment["TESSERA_TESTABLE_RELEASE"] == "1"

let strict: [SwiftSetting] =
    [
        .enableUpcomingFeature("ExistentialAny"),
        // Nonisolated async functions run on their caller's executor (SE-0461) instead
        // of hopping to the global one at every call: on NIO's event loops each hop is
        // a job enqueued, and a token request made sixteen of them in Tessera's code.
        // Closures handed to Hummingbird (a middleware's `next`) stay `@concurrent`.
        .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
    ] + (testableRelease ? [.unsafeFlags(["-enable-testing"], .when(configuration: .release))] : [])

// The tests' own targets, in that build, are compiled without optimization: they then
// build in a fraction of the time, and the code they test is still the optimized one.
let testSettings: [SwiftSetting] = strict + (testableRelease ? [.unsafeFlags(["-Onone"], .when(configuration: .release))] : [])

// The benchmarks under Benchmarks/ (Benchmarks/README.md) join the package when
// TESSERA_BENCHMARKS=1, as `.ci/run` and `scripts/bench` set it, so that packages using
// Tessera's libraries never fetch ordo-one/benchmark. Here rather than in a package of
// their own, they build on the release build of everything else instead of a second
// one (docs/ci.md).
let benchmarks = Context.environment["TESSERA_BENCHMARKS"] == "1"

// The libFuzzer targets under Fuzz/ (docs/fuzzing.md) join the package when
// TESSERA_FUZZ=1, as scripts/fuzz sets it for its own build with
// `-sanitize=fuzzer,address`; any other build would fail to link them. In this package
// they reach the `package` helpers of TesseraJOSE (its JSON reader and Base64) that
// they compare against Foundation.
let fuzzing = Context.environment["TESSERA_FUZZ"] == "1"

let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
        .library(name: "TesseraJOSE", targets: ["TesseraJOSE"]),
        .library(name: "TesseraCore", targets: ["TesseraCore"]),
        .library(name: "TesseraSQLite", targets: ["TesseraSQLite"]),
        .library(name: "TesseraPostgres", targets: ["TesseraPostgres"]),
        .library(name: "TesseraServer", targets: ["TesseraServer"]),
        .library(name: "TesseraVerifier", targets: ["TesseraVerifier"]),
        .library(name: "TesseraVerifierHummingbird", targets: ["TesseraVerifierHummingbird"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // Already in the graph through hummingbird; named so TesseraServer can import HTTPField.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The PostgreSQL store for several replicas (docs/operations.md).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Already in the graph through postgres-nio; named for the TLS configuration of `sslmode`.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // Already in the graph through hummingbird; named so `serve` can run Swift
        // concurrency's global executor on NIO's event loops (Serve.swift).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Already in the graph through hummingbird; named so TesseraServer's connection
        // guard can read the HTTP parts (NIOHTTPTypes) that Hummingbird's codec passes on.
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        // Already in the graph through swift-nio-extras; named so TesseraServer can read
        // client certificates (docs/binding.md) and check them against the client CAs.
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        // Already in the graph through hummingbird; named for the TLS listener's ALPN upgrade.
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
    ],
    targets: [
        .target(
            name: "TesseraJOSE",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TesseraCore",
            dependencies: [
                "TesseraJOSE",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TesseraSQLite",
            dependencies: [
                "TesseraCore",
                "TesseraJOSE",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for reading columns by position (StatementRow.swift).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                // NIOThreadPool: the threads SQLite reads block (SQLiteStorage.read).
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TesseraPostgres",
            dependencies: [
                "TesseraCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TesseraServer",
            dependencies: [
                "TesseraCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                // HTTP/1's own rules, read before the codec to HTTPTypes drops the
                // version and repeated fields (HTTP1Conformance.swift).
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                // Native TLS and HTTP/2 (docs/binding.md).
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                "TesseraJOSE",
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TesseraVerifier",
            dependencies: [
                "TesseraJOSE",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TesseraVerifierHummingbird",
            dependencies: [
                "TesseraVerifier",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tessera",
            dependencies: [
                "TesseraCore",
                "TesseraSQLite",
                "TesseraPostgres",
                "TesseraServer",
                "TesseraVerifier",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The TLS certificate and key, read again when they change (docs/binding.md).
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCertificateReloading", package: "swift-nio-extras"),
            ],
            swiftSettings: strict
        ),
        // Examples/: runnable against a local `tessera serve`; exercised by interop/test_examples.py.
        .executableTarget(
            name: "example-resource-server",
            dependencies: [
                "TesseraVerifier", "TesseraVerifierHummingbird",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Examples/ResourceServer",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "example-caller",
            dependencies: [
                "TesseraVerifier",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Examples/Caller",
            swiftSettings: strict
        ),
        // Test doubles shared by the test targets (a store that can be switched off
        // or hold a read, a clock moved by hand, a seeded generator for property tests).
        .target(
            name: "TesseraTestSupport",
            dependencies: ["TesseraCore"],
            path: "Tests/TesseraTestSupport",
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "TesseraJOSETests",
            dependencies: ["TesseraJOSE", "TesseraTestSupport"],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "TesseraCoreTests",
            dependencies: ["TesseraCore", "TesseraSQLite", "TesseraTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "TesseraStorageTests",
            dependencies: [
                "TesseraSQLite", "TesseraPostgres", "TesseraCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "TesseraServerTests",
            dependencies: [
                "TesseraServer", "TesseraSQLite", "TesseraCore", "TesseraJOSE", "TesseraTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "TesseraVerifierTests",
            dependencies: [
                "TesseraVerifier", "TesseraVerifierHummingbird", "TesseraServer", "TesseraSQLite", "TesseraCore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: testSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)

if benchmarks {
    // Allocation counts come from its malloc interposer.
    package.dependencies.append(.package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets += [
        // The micro benchmarks, which ordo-one's plugin finds as the targets in a folder
        // named Benchmarks, and the reference ceiling that scripts/bench measures beside
        // the server: a bare Hummingbird handler that parses the form and signs a fixed
        // ES256 JWT; then the NIO limit below it.
        .executableTarget(
            name: "TesseraBenchmarks",
            dependencies: [
                "TesseraJOSE", "TesseraCore", "TesseraSQLite", "TesseraVerifier",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Benchmarks/TesseraBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "reference-ceiling",
            dependencies: [
                "TesseraJOSE",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/Sources/ReferenceCeiling"
        ),
        // The machine's limit for the same work: SwiftNIO's HTTP/1 pipeline and a
        // synchronous handler that signs the same fixed-shape ES256 JWT.
        .executableTarget(
            name: "nio-limit",
            dependencies: [
                "TesseraJOSE",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/Sources/NIOLimit"
        ),
    ]
}

if fuzzing {
    // Each target defines `LLVMFuzzerTestOneInput` and an `@main` that hands it to
    // libFuzzer's driver (FuzzerDriver). libFuzzer's own `main` cannot be used: SwiftPM
    // links an executable with `--defsym main=<module>_main`, so `main` must come from
    // the module, and with no top-level code the sources are a library
    // (`-parse-as-library`).
    func fuzzer(_ name: String, folder: String) -> Target {
        .executableTarget(
            name: name,
            dependencies: ["FuzzerDriver", "TesseraJOSE", "TesseraCore"],
            path: "Fuzz/Sources/\(folder)",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    }
    package.targets += [
        .target(name: "FuzzerDriver", path: "Fuzz/Sources/FuzzerDriver"),
        fuzzer("fuzz-jws", folder: "FuzzJWS"),
        fuzzer("fuzz-json", folder: "FuzzJSON"),
        fuzzer("fuzz-form", folder: "FuzzForm"),
        fuzzer("fuzz-assertion", folder: "FuzzAssertion"),
    ]
}
