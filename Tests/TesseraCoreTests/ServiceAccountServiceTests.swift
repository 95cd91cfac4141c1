import Foundation
import TesseraCore
import Testing

@Suite struct ServiceAccountServiceTests {
    @Test func createStoresOnlyTheDigestOfTheSecret() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let tenant = try await harness.tenant()
        let created = try await harness.account(in: tenant, NewServiceAccount(name: "  billing  ", description: "pays", roles: ["analyst"]))
        #expect(created.account.name == "billing")
        #expect(created.account.clientID.hasPrefix("tsc_"))
        #expect(created.account.clientID.count == 30)
        let stored = try #require(try await harness.tessera.storage.credentials(clientID: created.account.clientID))
        #expect(stored.account.description == "pays")
        #expect(stored.secrets.count == 1)
        #expect(stored.secrets[0].digest == SecretFormat.digest(created.issuedSecret))
        #expect(stored.secrets[0].hint == SecretFormat.hint(created.issuedSecret))
        #expect(stored.secrets[0].name == "default")
    }

    /// The clock stands still here, so every creation meets the first one's name:
    /// past twenty of them the names once ran out and the create failed.
    @Test func generatedNamesThatMeetTakeARandomSuffixWithoutLimit() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let tenant = try await harness.tenant()
        let first = try await harness.account(in: tenant, NewServiceAccount())
        #expect(first.account.name == "service-account-20270115080000")
        #expect(first.account.roles == ["consumer"])
        var names: Set<String> = [first.account.name]
        for _ in 0..<40 {
            let next = try await harness.account(in: tenant, NewServiceAccount())
            #expect(next.account.name.wholeMatch(of: /service-account-20270115080000-[0-9a-hjkmnp-tv-z]{8}/) != nil, "\(next.account.name)")
            names.insert(next.account.name)
        }
        #expect(names.count == 41)
    }

    @Test(arguments: [
        (NewServiceAccount(name: ""), "name"),
        (NewServiceAccount(name: String(repeating: "n", count: 101)), "name"),
        (NewServiceAccount(name: "tab\there"), "name"),
        (NewServiceAccount(description: String(repeating: "d", count: 501)), "description"),
        (NewServiceAccount(description: "red \u{1B}[31malert"), "description"),
        (NewServiceAccount(description: "line\rrewritten"), "description"),
        (NewServiceAccount(description: "nul\u{0}"), "description"),
        (NewServiceAccount(description: "c1 \u{9B}31m"), "description"),
        (NewServiceAccount(binding: TokenBinding(tlsClientAuth: .init(kind: .dns, value: "not a name"))), "tls_client_auth_san_dns"),
        (NewServiceAccount(roles: []), "roles"),
        (NewServiceAccount(roles: ["wizard"]), "roles"),
        (NewServiceAccount(groups: [""]), "groups"),
        (NewServiceAccount(projects: [.init(project: "p", role: "wizard")]), "projects"),
        (NewServiceAccount(audiences: [String(repeating: "a", count: 201)]), "audiences"),
        (NewServiceAccount(expiresAt: Date(timeIntervalSince1970: 0)), "expires_at"),
    ])
    func invalidInputNamesTheField(_ input: NewServiceAccount, _ field: String) async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let tenant = try await harness.tenant()
        let error = await #expect(throws: DomainError.self) { try await harness.account(in: tenant, input) }
        #expect(error?.kind == .invalidInput(field: field))
        #expect(try await harness.tessera.storage.countServiceAccounts(tenantID: tenant.id) == 0)
    }

    @Test func aDescriptionMayHoldTabsAndLineFeeds() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let tenant = try await harness.tenant()
        let created = try await harness.account(in: tenant, NewServiceAccount(description: "first line\n\tsecond"))
        #expect(created.account.description == "first line\n\tsecond")
        let error = await #expect(throws: DomainError.self) {
            try await harness.tessera.accounts.update(
                created.account.id, in: tenant, ServiceAccountPatch(description: .some("bell\u{7}")), by: .bootstrap)
        }
        #expect(error?.kind == .invalidInput(field: "description"))
    }

    @Test func descriptionOfExactly500IsAccepted() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let created = try await harness.account(in: try await harness.tenant(), NewServiceAccount(description: String(repeating: "d", count: 500)))
        #expect(created.account.description?.count == 500)
    }

    @Test func duplicateNameIsAConflict() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let tenant = try await harness.tenant()
        _ = try await harness.account(in: tenant, NewServiceAccount(name: "billing"))
        await #expect(throws: DomainError(.conflict, "a service account named \"billing\" already exists")) {
            try await harness.account(in: tenant, NewServiceAccount(name: "billing"))
        }
    }

    @Test func bootstrapCreatesTenantOnceAndAnAdminEachTime() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let bootstrap = Bootstrap(tenants: harness.tessera.tenants, accounts: harness.tessera.accounts)
        let first = try await bootstrap.run(tenantSlug: "acme", role: "admin")
        let second = try await bootstrap.run(tenantSlug: "acme", role: "super_admin")
        #expect(first.tenantID == second.tenantID)
        #expect(first.tenantSlug == "acme")
        #expect(first.clientID != second.clientID)
        let record = try #require(try await harness.tessera.clients.client(id: second.clientID, now: harness.clock.now))
        #expect(record.allowedScopes.contains(TesseraScope.superAdmin))
        #expect(record.account.createdBy == "bootstrap")
    }

    @Test func onlyASuperAdminGrantsSuperAdmin() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let tenant = try await harness.tenant()
        let tenantAdmin = Caller(id: "a", isSuperAdmin: false)
        for input in [NewServiceAccount(roles: ["super_admin"]), NewServiceAccount(roles: ["analyst"], projects: [.init(project: "p", role: "super_admin")])] {
            await #expect(throws: DomainError(.forbidden, "only a super admin may grant the role \"super_admin\"")) {
                try await harness.tessera.accounts.create(in: tenant, input, by: tenantAdmin)
            }
        }
        let granted = try await harness.tessera.accounts.create(
            in: tenant, NewServiceAccount(roles: ["super_admin"]), by: Caller(id: "root", isSuperAdmin: true))
        #expect(granted.account.roles == ["super_admin"])
        #expect(granted.account.createdBy == "root")
    }

    @Test func invalidTenantSlugIsRefused() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        await #expect(throws: DomainError.self) { try await harness.tessera.tenants.create(slug: "Not A Slug") }
        #expect(!Tenant.isValidSlug("-acme"))
        #expect(Tenant.isValidSlug("acme-2"))
    }
}
