import Foundation
import Synchronization
import TesseraCore
import TesseraSQLite
import TesseraTestSupport
import Testing

/// Every cache that holds authority loses to a change made while it loads: a
/// load that read the store just before the change committed must not put the
/// old answer back. Each race is forced (the load is held between its read and
/// its return while the change commits) and run many times.
@Suite(.timeLimit(.minutes(1))) struct CacheRaceTests {
    /// A Tessera whose store can hold a read, with a long client TTL (the
    /// embedded store's 300 s), so a stale entry would outlive the test.
    struct Setup {
        let tessera: Tessera
        let storage: SwitchableStorage
        let directory: URL
        let now = Date(timeIntervalSince1970: 1_800_000_000)

        init() async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-race-\(UUID().uuidString)")
            storage = SwitchableStorage(try SQLiteStorage(path: directory.appendingPathComponent("tessera.sqlite").path))
            let now = now
            tessera = Tessera(
                issuer: "https://issuer.example", storage: storage, masterKey: .generate(),
                dependencies: Dependencies(now: { now }, randomBytes: Dependencies.live.randomBytes), clientCacheTTL: 300
            )
            try await tessera.start(signingAlgorithm: .es256)
        }

        func cleanup() { try? FileManager.default.removeItem(at: directory) }

        /// Starts a client load with nothing cached, holds it after its `read` of
        /// the store, runs `change`, then lets the load finish, runs `afterLoad`,
        /// and returns what the directory answers afterwards.
        func race(
            clientID: String, holding read: SwitchableStorage.Read, change: () async throws -> Void, afterLoad: () -> Void = {}
        ) async throws -> ClientRecord? {
            tessera.clients.invalidateAll()
            let (reached, reachedContinuation) = AsyncStream.makeStream(of: Void.self)
            let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
            storage.afterRead.withLock { pending in
                pending = (
                    read,
                    {
                        reachedContinuation.yield()
                        for await _ in release { break }
                    }
                )
            }
            let directory = tessera.clients
            let load = Task { [now] in try await directory.client(id: clientID, now: now) }
            for await _ in reached { break }
            try await change()
            releaseContinuation.yield()
            _ = try await load.value
            afterLoad()
            return try await directory.client(id: clientID, now: now)
        }
    }

    static let rounds = 25

    @Test func aDisabledAccountIsNeverPutBackByALoadThatReadItBefore() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let tenant = try await setup.tessera.tenants.create(slug: "acme")
        let caller = Caller(id: "test", isSuperAdmin: true)
        for _ in 0..<Self.rounds {
            let created = try await setup.tessera.accounts.create(in: tenant, NewServiceAccount(roles: ["admin"]), by: caller)
            let after = try await setup.race(clientID: created.account.clientID, holding: .credentials) {
                _ = try await setup.tessera.accounts.update(created.account.id, in: tenant, ServiceAccountPatch(status: .disabled), by: caller)
            }
            #expect(after?.account.status == .disabled)
            await #expect(throws: OAuthError.invalidClient()) {
                _ = try await setup.tessera.tokens.authenticate(clientID: created.account.clientID, secret: created.issuedSecret)
            }
        }
    }

    @Test func aDemotionIsNeverUndoneByALoadThatReadTheOldRoles() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let tenant = try await setup.tessera.tenants.create(slug: "acme")
        let caller = Caller(id: "test", isSuperAdmin: true)
        for _ in 0..<Self.rounds {
            let created = try await setup.tessera.accounts.create(in: tenant, NewServiceAccount(roles: ["admin"]), by: caller)
            let after = try await setup.race(clientID: created.account.clientID, holding: .credentials) {
                _ = try await setup.tessera.accounts.update(created.account.id, in: tenant, ServiceAccountPatch(roles: ["consumer"]), by: caller)
            }
            #expect(after?.account.roles == ["consumer"])
            #expect(after?.allowedScopes == ["api:read"])
        }
    }

    /// The tenant's role catalogue is cached with the clients: a load that read
    /// the catalogue before a role lost a scope must not keep the scope.
    @Test func aRoleChangeIsNeverUndoneByALoadThatReadTheOldCatalogue() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let tenant = try await setup.tessera.tenants.create(slug: "acme")
        _ = try await setup.tessera.roles.create(Role(name: "billing", scopes: ["invoices:read", "invoices:write"]), in: tenant)
        let caller = Caller(id: "test", isSuperAdmin: true)
        for round in 0..<Self.rounds {
            let created = try await setup.tessera.accounts.create(in: tenant, NewServiceAccount(roles: ["billing"]), by: caller)
            let scopes = round.isMultiple(of: 2) ? ["invoices:read"] : ["invoices:read", "invoices:write"]
            let after = try await setup.race(clientID: created.account.clientID, holding: .roles) {
                _ = try await setup.tessera.roles.update(Role(name: "billing", scopes: scopes), in: tenant)
            }
            #expect(after?.allowedScopes == Set(scopes))
        }
    }

    /// A tenant's settings (its token lifetime here) are read with the tenant: a
    /// load holding the old tenant must not keep it.
    @Test func aTenantChangeIsNeverUndoneByALoadThatReadTheOldTenant() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        var tenant = try await setup.tessera.tenants.create(slug: "acme")
        let caller = Caller(id: "test", isSuperAdmin: true)
        for round in 0..<Self.rounds {
            let created = try await setup.tessera.accounts.create(in: tenant, NewServiceAccount(roles: ["analyst"]), by: caller)
            let lifetime = 600 + round
            let after = try await setup.race(clientID: created.account.clientID, holding: .tenant) {
                tenant = try await setup.tessera.tenants.update(tenant, TenantPatch(tokenLifetime: .some(lifetime)))
            }
            #expect(after?.tenant.tokenLifetime == lifetime)
        }
    }

    /// The tenant cache the admin API's reads use (``TenantService/findCached(_:)``)
    /// loses to a tenant change made while it reads, by slug and by id alike.
    @Test func aTenantChangeIsNeverUndoneByATenantReadThatReadTheOldTenant() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        var tenant = try await setup.tessera.tenants.create(slug: "acme")
        for round in 0..<Self.rounds {
            setup.tessera.clients.invalidateAll()
            let reference = round.isMultiple(of: 2) ? "acme" : tenant.id.lowercased
            let (reached, reachedContinuation) = AsyncStream.makeStream(of: Void.self)
            let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
            setup.storage.afterRead.withLock { pending in
                pending = (
                    .tenant,
                    {
                        reachedContinuation.yield()
                        for await _ in release { break }
                    }
                )
            }
            let tenants = setup.tessera.tenants
            let read = Task { try await tenants.findCached(reference) }
            for await _ in reached { break }
            let lifetime = 600 + round
            tenant = try await setup.tessera.tenants.update(tenant, TenantPatch(tokenLifetime: .some(lifetime)))
            releaseContinuation.yield()
            // The held read answers what it read; what the cache keeps is the change.
            #expect(try await read.value?.tokenLifetime == (round == 0 ? nil : lifetime - 1))
            #expect(try await tenants.findCached(reference)?.tokenLifetime == lifetime)
            #expect(try await tenants.findCached("acme")?.tokenLifetime == lifetime)
            #expect(try await tenants.findCached(tenant.id.lowercased)?.tokenLifetime == lifetime)
        }
    }

    /// A change to one client says nothing about another: a load that ran beside
    /// another account's creation or disable keeps its result, so a client already
    /// known is still answered when the store then goes away (replicas see other
    /// clients' changes all the time through the change feed).
    @Test func aChangeToAnotherClientLetsTheLoadStand() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let tenant = try await setup.tessera.tenants.create(slug: "acme")
        let caller = Caller(id: "test", isSuperAdmin: true)
        let known = try await setup.tessera.accounts.create(in: tenant, NewServiceAccount(roles: ["analyst"]), by: caller)
        for _ in 0..<Self.rounds {
            // The store goes away once the load is done: only a kept result answers.
            let cached = try await setup.race(
                clientID: known.account.clientID, holding: .credentials,
                change: {
                    let other = try await setup.tessera.accounts.create(in: tenant, NewServiceAccount(roles: ["analyst"]), by: caller)
                    _ = try await setup.tessera.accounts.update(other.account.id, in: tenant, ServiceAccountPatch(status: .disabled), by: caller)
                    setup.tessera.clients.invalidate(clientID: other.account.clientID)
                },
                afterLoad: { setup.storage.down.withLock { $0 = true } })
            setup.storage.down.withLock { $0 = false }
            #expect(cached?.account.id == known.account.id)
        }
    }
}
