import Foundation
import Logging
import Synchronization
import TesseraCore
import TesseraJOSE
import TesseraTestSupport
import Testing

@Suite struct TenantCacheTests {
    @Test func aRoleCreatedAfterTheCatalogueWasCachedIsGrantedAtOnce() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let tenant = try await harness.tenant()
        // A first client loads (and caches) the tenant's catalogue.
        let first = try await harness.account(in: tenant)
        _ = try await harness.tessera.tokens.authenticate(clientID: first.account.clientID, secret: first.issuedSecret)
        _ = try await harness.tessera.roles.create(Role(name: "billing", scopes: ["invoices:read"]), in: tenant)
        let second = try await harness.account(in: tenant, NewServiceAccount(roles: ["billing"]))
        let client = try await harness.tessera.tokens.authenticate(clientID: second.account.clientID, secret: second.issuedSecret)
        #expect(client.record.allowedScopes == ["invoices:read"])
    }
}
