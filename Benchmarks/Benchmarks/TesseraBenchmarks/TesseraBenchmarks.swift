import Benchmark
import Foundation
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import TesseraVerifier

/// Micro benchmarks of the work behind one token: JOSE sign and verify per
/// algorithm, minting without HTTP, the client-secret check, store reads, and the
/// verifier cold and cached. `swift package benchmark` runs them.
let benchmarks: @Sendable () -> Void = {
    // BENCHMARK_SMOKE (CI) runs each benchmark briefly: it proves they run, not how fast.
    let smoke = ProcessInfo.processInfo.environment["BENCHMARK_SMOKE"] != nil
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        warmupIterations: smoke ? 1 : 10,
        maxDuration: smoke ? .milliseconds(200) : .seconds(2),
        maxIterations: smoke ? 100 : 100_000
    )
    let issuer = "https://issuer.bench"
    // Benchmarks that need a store set it up once per sample, outside the
    // measurement, and then measure a thousand warm iterations.
    let perThousand = Benchmark.Configuration(
        metrics: [.throughput, .wallClock, .mallocCountTotal], warmupIterations: smoke ? 0 : 2, scalingFactor: .kilo,
        maxDuration: smoke ? .milliseconds(200) : .seconds(3), maxIterations: smoke ? 2 : 30
    )
    let signingInput = Array("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9".utf8)

    for algorithm in JWSAlgorithm.allCases {
        // Keys are made once, outside the measurement (an RSA key takes a while).
        // A key that cannot be generated means a broken build: stop at once.
        let key = try! SigningKey.generate(algorithm)
        Benchmark("JOSE sign \(algorithm.rawValue)") { benchmark in
            for _ in benchmark.scaledIterations { blackHole(try key.sign(signingInput)) }
        }
        Benchmark("JOSE verify \(algorithm.rawValue)") { benchmark in
            let token = try JWS.sign(payload: Array(#"{"sub":"bench"}"#.utf8), with: key, type: "at+jwt")
            let verification = try VerificationKey(jwk: key.publicJWK)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { try CompactJWS(token).verify(with: verification) }
        }
    }

    Benchmark("token minting without HTTP (ES256)", configuration: perThousand) { benchmark in
        let fixture = try await Fixture.make(issuer: issuer)
        let client = try await fixture.tessera.tokens.authenticate(clientID: fixture.clientID, secret: fixture.secret)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try fixture.tessera.tokens.issue(for: client, scope: nil, audiences: [])) }
        benchmark.stopMeasurement()
        fixture.cleanup()
    }

    Benchmark("client-secret check (cached client)", configuration: perThousand) { benchmark in
        let fixture = try await Fixture.make(issuer: issuer)
        _ = try await fixture.tessera.tokens.authenticate(clientID: fixture.clientID, secret: fixture.secret)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await fixture.tessera.tokens.authenticate(clientID: fixture.clientID, secret: fixture.secret))
        }
        benchmark.stopMeasurement()
        fixture.cleanup()
    }

    Benchmark("store read: credentials by client id (SQLite)", configuration: perThousand) { benchmark in
        let fixture = try await Fixture.make(issuer: issuer)
        _ = try await fixture.tessera.storage.credentials(clientID: fixture.clientID)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try await fixture.tessera.storage.credentials(clientID: fixture.clientID)) }
        benchmark.stopMeasurement()
        fixture.cleanup()
    }

    // The raw cost the cold verification is compared with: the ES256 signature
    // check alone (SHA-256 of the signing input and ECDSA), on the same token.
    Benchmark("verifier baseline: ES256 signature check of the same token", configuration: perThousand) { benchmark in
        let fixture = try await Fixture.make(issuer: issuer)
        let client = try await fixture.tessera.tokens.authenticate(clientID: fixture.clientID, secret: fixture.secret)
        let jws = try CompactJWS(try fixture.tessera.tokens.issue(for: client, scope: nil, audiences: []).accessToken)
        guard let jwk = fixture.tessera.keyRing.snapshot?.published.first else { fatalError("the fixture has no signing key") }
        let key = try VerificationKey(jwk: jwk)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(key.isValidSignature(jws.signature, for: jws.signingInput)) }
        benchmark.stopMeasurement()
        fixture.cleanup()
    }

    for cached in [false, true] {
        Benchmark("verifier verify, \(cached ? "cached" : "cold") (ES256)", configuration: perThousand) { benchmark in
            let fixture = try await Fixture.make(issuer: issuer)
            let client = try await fixture.tessera.tokens.authenticate(clientID: fixture.clientID, secret: fixture.secret)
            let token = try fixture.tessera.tokens.issue(for: client, scope: nil, audiences: []).accessToken
            var configuration = TokenVerifier.Configuration()
            configuration.verifiedCacheCapacity = cached ? 10_000 : 0
            let verifier = TokenVerifier(
                issuer: issuer, audience: issuer, keys: JWKSet(keys: fixture.tessera.keyRing.snapshot?.published ?? []),
                configuration: configuration
            )
            _ = try await verifier.verify(token)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try await verifier.verify(token)) }
            benchmark.stopMeasurement()
            fixture.cleanup()
        }
    }
}

struct FixtureError: Error {
    let reason: String
}

/// A Tessera on a fresh SQLite file with one tenant and one account.
struct Fixture {
    let tessera: Tessera
    let clientID: String
    let secret: String
    let directory: URL

    static func make(issuer: String) async throws -> Fixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-\(UUID().uuidString)")
        let storage = try SQLiteStorage(path: directory.appendingPathComponent("tessera.sqlite").path)
        let tessera = Tessera(issuer: issuer, storage: storage, masterKey: .generate())
        try await tessera.start(signingAlgorithm: .es256)
        let tenant = try await tessera.tenants.create(slug: "bench")
        let created = try await tessera.accounts.create(in: tenant, NewServiceAccount(roles: ["editor"]), by: .bootstrap)
        // Made with its first secret (the default), so the value is there.
        guard let secret = created.clientSecret else { throw FixtureError(reason: "the account was made without a secret") }
        return Fixture(tessera: tessera, clientID: created.account.clientID, secret: secret, directory: directory)
    }

    func cleanup() {
        try? FileManager.default.removeItem(at: directory)
    }
}
