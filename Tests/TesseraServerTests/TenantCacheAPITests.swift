import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import Testing

@testable import TesseraServer

/// The admin API's GETs find their tenant in the tenant cache; seen from outside, that
/// must neither tell a tenant's admin which other tenants exist nor let a change be
/// decided against a tenant as cached.
@Suite struct TenantCacheAPITests {
    /// Another tenant is refused without a look at the store, whether it exists (and
    /// sits in the cache, put there by its own admin) or not: with the store away, both
    /// answer the same 404, while the caller's own page, which needs the store, is a 503.
    @Test func anotherTenantIsRefusedAlikeWhetherItExistsOrNot() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let acme = try await harness.credentials(tenant: "acme")
        let globex = try await harness.credentials(tenant: "globex")
        try await harness.run { client in
            let acmeToken = try await client.accessToken(acme)
            let globexToken = try await client.accessToken(globex)
            #expect(try await client.call(.get, "/v1/tenants/acme/service-accounts", token: acmeToken).status == .ok)
            #expect(try await client.call(.get, "/v1/tenants/globex/service-accounts", token: globexToken).status == .ok)
            let refusals = [
                "/v1/tenants/globex/service-accounts", "/v1/tenants/\(globex.tenantID)/service-accounts",
                "/v1/tenants/\(globex.tenantID.uppercased())/service-accounts", "/v1/tenants/initech/service-accounts",
                "/v1/tenants/\(UUID().uuidString)/service-accounts", "/v1/tenants/globex/roles",
            ]
            var bodies: Set<String> = []
            for down in [false, true] {
                harness.storeDown(down)
                for uri in refusals {
                    let response = try await client.call(.get, uri, token: acmeToken)
                    #expect(response.status == .notFound, "\(uri), store down: \(down)")
                    #expect(try response.jsonObject()["detail"] as? String == "tenant not found", "\(uri)")
                    bodies.insert(String(buffer: response.body))
                }
            }
            #expect(bodies.count == 1)
            // The store is away indeed: the caller's own page needs it.
            #expect(try await client.call(.get, "/v1/tenants/acme/service-accounts", token: acmeToken).status == .serviceUnavailable)
            harness.storeDown(false)
            // Its own tenant, named by slug or by id in either case, is found from the cache.
            for reference in ["acme", acme.tenantID, acme.tenantID.uppercased()] {
                let page = try await client.call(.get, "/v1/tenants/\(reference)/service-accounts", token: acmeToken)
                #expect(page.status == .ok, "\(reference)")
                #expect(try page.items().count == 1)
            }
        }
    }

    /// A tenant's account limit lowered in the store behind the cache's back (as
    /// another replica would) holds for the next creation at once: a change reads its
    /// tenant from the store, not from the cache its GETs use.
    @Test func aChangeIsDecidedAgainstTheTenantAsStored() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let acme = try await harness.credentials(tenant: "acme")
        try await harness.run { client in
            let token = try await client.accessToken(acme)
            #expect(try await client.call(.get, "/v1/tenants/acme/service-accounts", token: token).items().count == 1)
            var tenant = try #require(try await harness.tessera.storage.tenant(slug: "acme"))
            tenant.accountLimit = 1
            try await harness.tessera.storage.updateTenant(tenant)
            let refused = try await client.call(.post, "/v1/tenants/acme/service-accounts", token: token, json: #"{"name":"one-too-many"}"#)
            #expect(refused.status == .conflict)
            #expect(try refused.jsonObject()["detail"] as? String == "the tenant's limit of 1 service accounts is reached")
            #expect(try await client.call(.get, "/v1/tenants/acme/service-accounts", token: token).items().count == 1)
        }
    }
}
