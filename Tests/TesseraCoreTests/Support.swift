import Foundation
import Synchronization
import TesseraCore
import TesseraSQLite
import TesseraTestSupport

/// A Tessera on a fresh SQLite file with a controlled clock.
struct CoreHarness {
    let tessera: Tessera
    let clock: TestClock
    let directory: URL

    static let issuer = "https://issuer.example"

    init(
        clientCacheTTL: TimeInterval = 30, federationPolicy: FederationURLPolicy = FederationURLPolicy(),
        federationFetch: FederatedKeys.Fetch? = nil
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-core-\(UUID().uuidString)")
        let storage = try SQLiteStorage(path: directory.appendingPathComponent("tessera.sqlite").path)
        let clock = TestClock()
        self.clock = clock
        let dependencies = Dependencies(now: { clock.now }, randomBytes: Dependencies.live.randomBytes)
        tessera = Tessera(
            issuer: Self.issuer + "/", storage: storage, masterKey: .generate(), dependencies: dependencies, clientCacheTTL: clientCacheTTL,
            federationPolicy: federationPolicy, federationFetch: federationFetch
        )
        try await tessera.start(signingAlgorithm: .es256)
    }

    func cleanup() {
        try? FileManager.default.removeItem(at: directory)
    }

    func tenant(_ slug: String = "acme") async throws -> Tenant {
        try await tessera.tenants.create(slug: slug)
    }

    func account(in tenant: Tenant, _ input: NewServiceAccount = NewServiceAccount(roles: ["analyst"])) async throws -> CreatedServiceAccount {
        try await tessera.accounts.create(in: tenant, input, by: Caller(id: "test", isSuperAdmin: true))
    }
}

extension CreatedServiceAccount {
    /// The first secret's value. Every account these tests make is made with one; an
    /// empty value (none made) authenticates nothing, so a test relying on it fails.
    var issuedSecret: String { clientSecret ?? "" }
}
