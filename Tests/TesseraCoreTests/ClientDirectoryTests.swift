import Foundation
import Logging
import Synchronization
import TesseraCore
import TesseraJOSE
import TesseraTestSupport
import Testing

@Suite struct ClientDirectoryTests {
    @Test func cachedEntryIsServedUntilItsTimeToLive() async throws {
        let harness = try await CoreHarness(clientCacheTTL: 30)
        defer { harness.cleanup() }
        let tenant = try await harness.tenant()
        // Written straight to the store, bypassing the use case that invalidates.
        let now = harness.clock.now
        let account = ServiceAccount(
            id: UUID(), tenantID: tenant.id, clientID: "tsc_direct", name: "direct", roles: ["analyst"], createdAt: now, updatedAt: now)
        let directory = harness.tessera.clients
        #expect(try await directory.client(id: "tsc_direct", now: now) == nil)
        let secret = ClientSecret(id: UUID(), accountID: account.id, name: "default", hint: "h", digest: Array(repeating: 1, count: 32), createdAt: now)
        _ = try await harness.tessera.storage.createServiceAccount(account, secret: secret, limit: nil)
        // The negative answer is cached...
        #expect(try await directory.client(id: "tsc_direct", now: now.addingTimeInterval(29)) == nil)
        // ...until it expires.
        let record = try #require(try await directory.client(id: "tsc_direct", now: now.addingTimeInterval(31)))
        #expect(record.allowedScopes == ["api:read"])
        directory.invalidate(clientID: "tsc_direct")
        #expect(try await directory.client(id: "tsc_direct", now: now.addingTimeInterval(31))?.account.id == account.id)
    }

    /// The tenant cache of ``TenantService/findCached(_:)``: a tenant changed behind
    /// the server's back is answered as cached until the TTL, one changed through it
    /// at once; a slug not found is asked again, so a new tenant is found at once.
    @Test func tenantsAreCachedByIdAndSlugUntilTheirTimeToLiveOrAChange() async throws {
        let harness = try await CoreHarness(clientCacheTTL: 30)
        defer { harness.cleanup() }
        let tenants = harness.tessera.tenants
        #expect(try await tenants.findCached("later") == nil)
        let tenant = try await tenants.create(slug: "later")
        #expect(try await tenants.findCached("later")?.id == tenant.id)
        #expect(try await tenants.findCached(tenant.id.lowercased)?.id == tenant.id)
        #expect(try await tenants.findCached(tenant.id.uuidString)?.id == tenant.id)
        #expect(try await tenants.findCached("not a slug") == nil)
        #expect(try await tenants.findCached(UUID().lowercased) == nil)

        // Written straight to the store, bypassing the use case that invalidates.
        var changed = tenant
        changed.name = "Renamed behind the cache"
        try await harness.tessera.storage.updateTenant(changed)
        #expect(try await tenants.findCached("later")?.name == "later")
        harness.clock.advance(31)
        #expect(try await tenants.findCached("later")?.name == "Renamed behind the cache")

        // Through the use case: at once, by slug and by id.
        let updated = try await tenants.update(changed, TenantPatch(name: "Renamed"))
        #expect(try await tenants.findCached("later")?.name == "Renamed")
        #expect(try await tenants.findCached(tenant.id.lowercased)?.name == "Renamed")
        #expect(updated.name == "Renamed")
    }
}
