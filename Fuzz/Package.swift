// swift-tools-version:6.1
// libFuzzer targets for Tessera's parsers, in their own package so the main one
// stays lean. It depends only on the products it fuzzes (no Hummingbird).
// Build and run them with ../scripts/fuzz; docs/fuzzing.md says what each covers.
//
//   swift build -c release --package-path Fuzz --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address
//
// Each target defines `LLVMFuzzerTestOneInput` and an `@main` that hands it to
// libFuzzer's driver (FuzzerDriver). libFuzzer's own `main` cannot be used: SwiftPM
// links an executable with `--defsym main=<module>_main`, so `main` must come from
// the module, and with no top-level code the sources are a library (`-parse-as-library`).
import PackageDescription

let fuzzerSettings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

func fuzzer(_ name: String, path: String) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            "FuzzerDriver",
            .product(name: "TesseraJOSE", package: "Tessera"),
            .product(name: "TesseraCore", package: "Tessera"),
        ],
        path: "Sources/\(path)",
        swiftSettings: fuzzerSettings
    )
}

let package = Package(
    name: "TesseraFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Tessera", path: ".."),
    ],
    targets: [
        .target(name: "FuzzerDriver", path: "Sources/FuzzerDriver"),
        fuzzer("fuzz-jws", path: "FuzzJWS"),
        fuzzer("fuzz-json", path: "FuzzJSON"),
        fuzzer("fuzz-form", path: "FuzzForm"),
        fuzzer("fuzz-assertion", path: "FuzzAssertion"),
    ],
    swiftLanguageModes: [.v6]
)
