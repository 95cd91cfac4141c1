// swift-tools-version:6.1
// Benchmarks for Tessera, in their own package so the main one stays lean.
//   swift package benchmark                      # the micro benchmarks (ordo-one/benchmark)
//   ../scripts/bench                             # HTTP under wrk, with the reference ceiling
import PackageDescription

let package = Package(
    name: "TesseraBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Tessera", path: ".."),
        // Allocation counts come from its malloc interposer.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "TesseraBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "TesseraJOSE", package: "Tessera"),
                .product(name: "TesseraCore", package: "Tessera"),
                .product(name: "TesseraSQLite", package: "Tessera"),
                .product(name: "TesseraVerifier", package: "Tessera"),
            ],
            path: "Benchmarks/TesseraBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The reference ceiling: what a bare Hummingbird handler that parses the form
        // and signs a fixed ES256 JWT achieves on this machine.
        .executableTarget(
            name: "reference-ceiling",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "TesseraJOSE", package: "Tessera"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/ReferenceCeiling"
        ),
    ],
    swiftLanguageModes: [.v6]
)
