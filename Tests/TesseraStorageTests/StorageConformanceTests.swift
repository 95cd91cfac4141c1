import Foundation
import GRDB
import Logging
import PostgresNIO
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraPostgres
@testable import TesseraSQLite

/// The store contract every backend must meet. Each test runs against every
/// backend in ``Backend/all``: SQLite always, PostgreSQL when
/// `TESSERA_TEST_POSTGRES_URL` names a server (`.ci/run` starts one).
struct Backend: CustomTestStringConvertible, Sendable {
    let name: String
    let make: @Sendable () async throws -> (any Storage, cleanup: @Sendable () -> Void)

    var testDescription: String { name }

    static let sqlite = Backend(name: "SQLite") {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(UUID().uuidString)")
        let storage = try SQLiteStorage(path: directory.appendingPathComponent("tessera.sqlite").path)
        return (storage, { try? FileManager.default.removeItem(at: directory) })
    }

    /// A new, migrated database on the test server for each test.
    static let postgres = Backend(name: "PostgreSQL") {
        let url = try #require(ProcessInfo.processInfo.environment["TESSERA_TEST_POSTGRES_URL"])
        let storage = try PostgresStorage(url: try await TestDatabase.create(on: url))
        try await storage.migrate()
        return (storage, { storage.shutdown() })
    }

    /// Under `CI` PostgreSQL is never left out: without a server its tests fail
    /// (at `#require`) instead of passing silently on SQLite alone.
    static let all: [Backend] = {
        let environment = ProcessInfo.processInfo.environment
        return environment["TESSERA_TEST_POSTGRES_URL"] == nil && environment["CI"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }()
}

/// Fresh databases on the test server, one per test, so tests run in parallel.
enum TestDatabase {
    /// Creates an empty database and returns the URL with its name in place of the original one.
    static func create(on url: String) async throws -> String {
        let name = "tessera_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let client = PostgresClient(configuration: try PostgresStorage.configuration(url))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
            group.cancelAll()
        }
        var components = try #require(URLComponents(string: url))
        components.path = "/" + name
        return try #require(components.string)
    }
}

enum Fixtures {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func tenant(_ slug: String, limit: Int? = nil) -> Tenant {
        Tenant(id: UUID(), slug: slug, name: slug.capitalized, accountLimit: limit, createdAt: now, updatedAt: now)
    }

    static func signingKey(state: StoredSigningKey.State) throws -> StoredSigningKey {
        let key = try SigningKey.generate(.es256)
        return StoredSigningKey(
            kid: key.keyID, algorithm: .es256, publicJWK: key.publicJWK, sealedPrivateKey: [1, 2, 3],
            state: state, createdAt: now, activatedAt: state == .active ? now : nil
        )
    }

    static func account(in tenant: Tenant, name: String, roles: [String] = ["admin"]) -> (ServiceAccount, ClientSecret) {
        let account = ServiceAccount(
            id: UUID(), tenantID: tenant.id, clientID: "tsc_\(UUID().uuidString.lowercased())", name: name,
            description: "d", roles: roles, groups: ["Public"], projects: [.init(project: "p1", role: "analyst")],
            audiences: ["https://api.example"], createdAt: now, updatedAt: now, createdBy: "bootstrap"
        )
        let secret = ClientSecret(
            id: UUID(), accountID: account.id, name: "default", hint: "tss_…abcd",
            digest: Array(repeating: 7, count: 32), scopes: ["scim"], createdAt: now
        )
        return (account, secret)
    }
}

@Suite struct StorageConformanceTests {
    /// An account is created with its secret or without one, and never in a tenant
    /// that does not exist, with a limit or without.
    @Test(arguments: Backend.all)
    func anAccountIsCreatedWithOrWithoutASecretAndOnlyInATenantThatExists(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme"), roles: Role.defaultCatalogue)
        let (bare, unissued) = Fixtures.account(in: tenant, name: "bare")
        let stored = try await storage.createServiceAccount(bare, secret: nil, limit: nil)
        #expect(try await storage.credentials(clientID: stored.clientID)?.secrets == [])
        #expect(try await storage.clientID(ofSecret: unissued.id) == nil)
        let (keyed, secret) = Fixtures.account(in: tenant, name: "keyed")
        let storedKeyed = try await storage.createServiceAccount(keyed, secret: secret, limit: 5)
        #expect(try await storage.credentials(clientID: storedKeyed.clientID)?.secrets == [secret])
        #expect(storedKeyed.number > stored.number)

        let missing = Fixtures.tenant("gone")
        for limit in [nil, 5] as [Int?] {
            let (orphan, orphanSecret) = Fixtures.account(in: missing, name: "orphan")
            await #expect {
                _ = try await storage.createServiceAccount(orphan, secret: orphanSecret, limit: limit)
            } throws: { error in
                (error as? StoreError)?.isNotFound == true
            }
            #expect(try await storage.credentials(clientID: orphan.clientID) == nil)
            #expect(try await storage.clientID(ofSecret: orphanSecret.id) == nil)
        }
    }

    @Test(arguments: Backend.all)
    func aSecretsIDLeadsToItsAccountsClientID(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme"), roles: Role.defaultCatalogue)
        let (account, secret) = Fixtures.account(in: tenant, name: "keyed")
        let stored = try await storage.createServiceAccount(account, secret: secret, limit: nil)
        #expect(try await storage.clientID(ofSecret: secret.id) == stored.clientID)
        #expect(try await storage.clientID(ofSecret: UUID()) == nil)
        #expect(try await storage.clientID(ofSecret: account.id) == nil)
        #expect(try await storage.deleteSecret(id: secret.id, accountID: account.id))
        #expect(try await storage.clientID(ofSecret: secret.id) == nil)
    }

    @Test(arguments: Backend.all)
    func anAPITokensDigestLeadsToItsAccountAndASecretsDoesNot(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme"), roles: Role.defaultCatalogue)
        let (account, secret) = Fixtures.account(in: tenant, name: "tokened")
        let stored = try await storage.createServiceAccount(account, secret: secret, limit: nil)
        let token = ClientSecret(
            id: UUID(), accountID: account.id, kind: .apiToken, name: "ci", description: "the nightly export", hint: "tsa_…wxyz",
            digest: Array(repeating: 9, count: 32), scopes: nil, createdAt: Fixtures.now
        )
        try await storage.createSecret(token, limit: 10)
        #expect(try await storage.clientID(ofAPITokenDigest: token.digest) == stored.clientID)
        // A client secret's digest is not an API token's, nor is an unknown one.
        #expect(try await storage.clientID(ofAPITokenDigest: secret.digest) == nil)
        #expect(try await storage.clientID(ofAPITokenDigest: Array(repeating: 1, count: 32)) == nil)
        // The kind survives the round trip, and the two kinds share one name space.
        #expect(Set(try await storage.secrets(accountID: account.id).map(\.kind)) == [.clientSecret, .apiToken])
        #expect(try await storage.secrets(accountID: account.id).first { $0.id == token.id } == token)
        var duplicate = token
        duplicate.id = UUID()
        duplicate.kind = .clientSecret
        duplicate.digest = Array(repeating: 3, count: 32)
        await #expect(throws: StoreError.self) { try await storage.createSecret(duplicate, limit: 10) }
        #expect(try await storage.deleteSecret(id: token.id, accountID: account.id))
        #expect(try await storage.clientID(ofAPITokenDigest: token.digest) == nil)
    }

    @Test(arguments: Backend.all)
    func aPageBackwardsIsTheLastAccountsBelowTheCursorInAscendingOrder(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme"), roles: Role.defaultCatalogue)
        var numbers: [Int] = []
        for index in 0..<5 {
            let (account, secret) = Fixtures.account(in: tenant, name: "a\(index)", roles: index.isMultiple(of: 2) ? ["admin"] : ["editor"])
            numbers.append(try await storage.createServiceAccount(account, secret: secret, limit: nil).number)
        }
        var filter = ServiceAccountFilter()
        filter.beforeNumber = numbers[4]
        #expect(
            try await storage.listServiceAccounts(tenantID: tenant.id, filter: filter, afterNumber: nil, limit: 2).map(\.number) == [numbers[2], numbers[3]])
        filter.role = "admin"
        #expect(
            try await storage.listServiceAccounts(tenantID: tenant.id, filter: filter, afterNumber: nil, limit: 5).map(\.number) == [numbers[0], numbers[2]])
        filter = ServiceAccountFilter()
        filter.project = "p1"
        #expect(try await storage.listServiceAccounts(tenantID: tenant.id, filter: filter, afterNumber: nil, limit: 10).count == 5)
        filter.project = "p2"
        #expect(try await storage.listServiceAccounts(tenantID: tenant.id, filter: filter, afterNumber: nil, limit: 10).isEmpty)
        filter = ServiceAccountFilter()
        filter.beforeNumber = numbers[0]
        #expect(try await storage.listServiceAccounts(tenantID: tenant.id, filter: filter, afterNumber: nil, limit: 2).isEmpty)
    }

    @Test(arguments: Backend.all)
    func tenantRoundTripsAndNumbersAreAssigned(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let first = try await storage.createTenant(Fixtures.tenant("acme", limit: 5), roles: Role.defaultCatalogue)
        let second = try await storage.createTenant(Fixtures.tenant("globex"), roles: [])
        #expect(first.number == 1)
        #expect(second.number == 2)
        let loaded = try #require(try await storage.tenant(slug: "acme"))
        #expect(loaded == first)
        #expect(try await storage.tenant(id: second.id) == second)
        #expect(try await storage.tenant(slug: "missing") == nil)
        #expect(try await storage.roles(tenantID: first.id).map(\.name) == Role.defaultCatalogue.map(\.name).sorted())
        #expect(try await storage.roles(tenantID: second.id).isEmpty)
    }

    @Test(arguments: Backend.all)
    func duplicateTenantSlugIsAConflict(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        _ = try await storage.createTenant(Fixtures.tenant("acme"), roles: [])
        let error = await #expect(throws: StoreError.self) { try await storage.createTenant(Fixtures.tenant("acme"), roles: []) }
        #expect(error?.isConflict == true)
    }

    /// Every member of an account, each with a value of its own, reads back as written
    /// through each read: by id, by client id and in a page.
    @Test(arguments: Backend.all)
    func accountAndSecretRoundTrip(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme"), roles: Role.defaultCatalogue)
        var (account, secret) = Fixtures.account(in: tenant, name: "billing")
        account.projects = [.init(project: "p1", role: "analyst"), .init(project: "p \"2\"", role: "owner")]
        account.status = .disabled
        account.expiresAt = Fixtures.now.addingTimeInterval(86_400)
        account.tokenLifetime = 900
        account.binding = TokenBinding(dpopRequired: true, tlsClientAuth: .init(kind: .dns, value: "svc.example"), selfSigned: true)
        account.updatedAt = Fixtures.now.addingTimeInterval(5)
        account.lastUsedAt = Fixtures.now.addingTimeInterval(7)
        let stored = try await storage.createServiceAccount(account, secret: secret, limit: nil)
        #expect(stored.number >= 1)
        var expected = account
        expected.number = stored.number
        #expect(stored == expected)
        #expect(try await storage.serviceAccount(id: account.id, tenantID: tenant.id) == expected)
        let credentials = try #require(try await storage.credentials(clientID: account.clientID))
        #expect(credentials.account == expected)
        #expect(credentials.secrets == [secret])
        #expect(try await storage.listServiceAccounts(tenantID: tenant.id, filter: ServiceAccountFilter(), afterNumber: nil, limit: 10) == [expected])
        #expect(try await storage.credentials(clientID: "tsc_unknown") == nil)
        #expect(try await storage.countServiceAccounts(tenantID: tenant.id) == 1)

        // An account whose optional members are all absent reads back with them absent.
        var (bare, bareSecret) = Fixtures.account(in: tenant, name: "bare")
        (bare.description, bare.expiresAt, bare.tokenLifetime, bare.createdBy, bare.lastUsedAt) = (nil, nil, nil, nil, nil)
        (bare.groups, bare.audiences, bare.projects) = ([], [], [])
        var expectedBare = bare
        expectedBare.number = try await storage.createServiceAccount(bare, secret: bareSecret, limit: nil).number
        #expect(try await storage.serviceAccount(id: bare.id, tenantID: tenant.id) == expectedBare)
        #expect(try await storage.credentials(clientID: bare.clientID)?.account == expectedBare)
        // The page given to a transform is the page as read.
        let counted = try await storage.listServiceAccounts(tenantID: tenant.id, filter: ServiceAccountFilter(), afterNumber: nil, limit: 10) {
            ($0.map(\.id), $0.count)
        }
        #expect(counted.0 == [account.id, bare.id] && counted.1 == 2)
    }

    /// Many reads at once (more than SQLite's five reader connections) all finish,
    /// each with its own answer.
    @Test(arguments: Backend.all)
    func manyConcurrentReadsEachGetTheirAnswer(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme"), roles: Role.defaultCatalogue)
        var accounts: [ServiceAccount] = []
        for index in 0..<8 {
            let (account, secret) = Fixtures.account(in: tenant, name: "account-\(index)")
            accounts.append(try await storage.createServiceAccount(account, secret: secret, limit: nil))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for round in 0..<64 {
                let account = accounts[round % accounts.count]
                group.addTask {
                    let page = try await storage.listServiceAccounts(
                        tenantID: tenant.id, filter: ServiceAccountFilter(), afterNumber: account.number - 1, limit: 1
                    ) { $0 }
                    #expect(page == [account])
                    #expect(try await storage.credentials(clientID: account.clientID)?.account == account)
                }
            }
            try await group.waitForAll()
        }
    }

    @Test(arguments: Backend.all)
    func accountIsInvisibleFromAnotherTenant(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let acme = try await storage.createTenant(Fixtures.tenant("acme"), roles: [])
        let globex = try await storage.createTenant(Fixtures.tenant("globex"), roles: [])
        let (account, secret) = Fixtures.account(in: acme, name: "billing")
        _ = try await storage.createServiceAccount(account, secret: secret, limit: nil)
        #expect(try await storage.serviceAccount(id: account.id, tenantID: globex.id) == nil)
    }

    /// The deletes take the caller's tenant (or account) beside the id: another
    /// tenant's ids delete nothing, report that nothing was there, and the rows stay.
    @Test(arguments: Backend.all)
    func deletesWithAnotherTenantsIDsChangeNothing(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let acme = try await storage.createTenant(Fixtures.tenant("acme"), roles: [])
        let globex = try await storage.createTenant(Fixtures.tenant("globex"), roles: [])
        let (victim, victimSecret) = Fixtures.account(in: acme, name: "victim")
        let storedVictim = try await storage.createServiceAccount(victim, secret: victimSecret, limit: nil)
        let (intruder, intruderSecret) = Fixtures.account(in: globex, name: "intruder")
        _ = try await storage.createServiceAccount(intruder, secret: intruderSecret, limit: nil)
        let key = ClientKey(accountID: victim.id, kid: "k1", jwk: try SigningKey.generate(.es256).publicJWK, createdAt: Fixtures.now)
        try await storage.addClientKey(key, limit: 10)

        // The acme account's id under globex's tenant id.
        #expect(try await storage.deleteServiceAccount(id: victim.id, tenantID: globex.id) == false)
        // The acme secret's id under globex's account.
        #expect(try await storage.deleteSecret(id: victimSecret.id, accountID: intruder.id) == false)
        // The acme key's kid under globex's account.
        #expect(try await storage.deleteClientKey(kid: "k1", accountID: intruder.id) == false)

        #expect(try await storage.serviceAccount(id: victim.id, tenantID: acme.id) == storedVictim)
        #expect(try await storage.secrets(accountID: victim.id) == [victimSecret])
        #expect(try await storage.credentials(clientID: victim.clientID)?.secrets == [victimSecret])
        #expect(try await storage.clientKeys(accountID: victim.id) == [key])
        #expect(try await storage.countServiceAccounts(tenantID: acme.id) == 1)
        // The intruder's own rows are untouched too.
        #expect(try await storage.secrets(accountID: intruder.id) == [intruderSecret])
        #expect(try await storage.countServiceAccounts(tenantID: globex.id) == 1)

        // With the right ids the same calls delete, so the refusals above were the tenant's.
        #expect(try await storage.deleteClientKey(kid: "k1", accountID: victim.id))
        #expect(try await storage.deleteSecret(id: victimSecret.id, accountID: victim.id))
        #expect(try await storage.deleteServiceAccount(id: victim.id, tenantID: acme.id))
        #expect(try await storage.serviceAccount(id: victim.id, tenantID: acme.id) == nil)
    }

    @Test(arguments: Backend.all)
    func duplicateNameInOneTenantIsAConflictButNotAcrossTenants(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let acme = try await storage.createTenant(Fixtures.tenant("acme"), roles: [])
        let globex = try await storage.createTenant(Fixtures.tenant("globex"), roles: [])
        let (first, firstSecret) = Fixtures.account(in: acme, name: "billing")
        _ = try await storage.createServiceAccount(first, secret: firstSecret, limit: nil)
        let (duplicate, duplicateSecret) = Fixtures.account(in: acme, name: "billing")
        let error = await #expect(throws: StoreError.self) {
            try await storage.createServiceAccount(duplicate, secret: duplicateSecret, limit: nil)
        }
        #expect(error?.isConflict == true)
        // Nothing of the refused account was written: its secret neither.
        #expect(try await storage.credentials(clientID: duplicate.clientID) == nil)
        let (elsewhere, elsewhereSecret) = Fixtures.account(in: globex, name: "billing")
        _ = try await storage.createServiceAccount(elsewhere, secret: elsewhereSecret, limit: nil)
        #expect(try await storage.countServiceAccounts(tenantID: acme.id) == 1)
        #expect(try await storage.countServiceAccounts(tenantID: globex.id) == 1)
    }

    @Test(arguments: Backend.all)
    func accountLimitIsEnforced(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme", limit: 2), roles: [])
        for name in ["a", "b"] {
            let (account, secret) = Fixtures.account(in: tenant, name: name)
            _ = try await storage.createServiceAccount(account, secret: secret, limit: 2)
        }
        let (third, thirdSecret) = Fixtures.account(in: tenant, name: "c")
        let error = await #expect(throws: StoreError.self) { try await storage.createServiceAccount(third, secret: thirdSecret, limit: 2) }
        #expect(error?.isLimitReached == true)
        #expect(try await storage.countServiceAccounts(tenantID: tenant.id) == 2)
    }

    @Test(arguments: Backend.all)
    func usageIsRecordedAndNeverMovesBackwards(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme"), roles: [])
        let (account, secret) = Fixtures.account(in: tenant, name: "billing")
        _ = try await storage.createServiceAccount(account, secret: secret, limit: nil)
        let later = Fixtures.now.addingTimeInterval(60)
        try await storage.recordUsage(accounts: [account.id: later, UUID(): later], secrets: [secret.id: later])
        try await storage.recordUsage(accounts: [account.id: Fixtures.now], secrets: [secret.id: Fixtures.now])
        let credentials = try #require(try await storage.credentials(clientID: account.clientID))
        #expect(credentials.account.lastUsedAt == later)
        #expect(credentials.secrets.first?.lastUsedAt == later)
    }

    @Test(arguments: Backend.all)
    func signingKeysRoundTripAndOnlyOneIsActive(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        func record(_ state: StoredSigningKey.State) throws -> StoredSigningKey {
            let key = try SigningKey.generate(.es256)
            return StoredSigningKey(
                kid: key.keyID, algorithm: .es256, publicJWK: key.publicJWK, sealedPrivateKey: [1, 2, 3],
                state: state, createdAt: Fixtures.now, activatedAt: Fixtures.now
            )
        }
        let first = try record(.active)
        #expect(try await storage.insertSigningKey(first))
        #expect(try await storage.insertSigningKey(try record(.active)) == false)
        var next = try record(.next)
        next.activatedAt = nil
        next.activatesAt = Fixtures.now.addingTimeInterval(300)
        #expect(try await storage.insertSigningKey(next))
        #expect(try await storage.insertSigningKey(try record(.next)) == false)
        let stored = try await storage.signingKeys()
        #expect(Set(stored.map(\.kid)) == [first.kid, next.kid])
        #expect(stored.first { $0.kid == first.kid } == first)
        #expect(stored.first { $0.kid == next.kid } == next)

        // Promotion retires the active key in the same transaction, once.
        let later = Fixtures.now.addingTimeInterval(400)
        #expect(try await storage.promoteSigningKey(kid: next.kid, now: later))
        #expect(try await storage.promoteSigningKey(kid: next.kid, now: later) == false)
        let after = Dictionary(uniqueKeysWithValues: try await storage.signingKeys().map { ($0.kid, $0) })
        #expect(after[first.kid]?.state == .retired)
        #expect(after[first.kid]?.retiredAt == later)
        #expect(after[next.kid]?.state == .active)
        #expect(after[next.kid]?.activatedAt == later)
        try await storage.deleteSigningKey(kid: next.kid)  // active: kept
        try await storage.deleteSigningKey(kid: first.kid)
        #expect(try await storage.signingKeys().map(\.kid) == [next.kid])
    }

    @Test(arguments: Backend.all)
    func revocationsAreIdempotentAndPurgedAfterExpiry(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = UUID()
        try await storage.revokeToken(jti: "a", tenantID: tenant, expiresAt: Fixtures.now.addingTimeInterval(60), revokedAt: Fixtures.now)
        try await storage.revokeToken(jti: "a", tenantID: tenant, expiresAt: Fixtures.now.addingTimeInterval(60), revokedAt: Fixtures.now)
        try await storage.revokeToken(jti: "b", tenantID: tenant, expiresAt: Fixtures.now.addingTimeInterval(600), revokedAt: Fixtures.now)
        #expect(try await storage.isTokenRevoked(jti: "a"))
        #expect(try await storage.isTokenRevoked(jti: "c") == false)
        #expect(try await storage.purgeRevokedTokens(expiredBefore: Fixtures.now.addingTimeInterval(120)) == 1)
        #expect(try await storage.isTokenRevoked(jti: "a") == false)
        #expect(try await storage.isTokenRevoked(jti: "b"))
        try await storage.revokeToken(jti: "c", tenantID: tenant, expiresAt: Fixtures.now.addingTimeInterval(900), revokedAt: Fixtures.now)
        let listed = try await storage.revokedTokens(expiringAfter: Fixtures.now.addingTimeInterval(600), limit: 10)
        #expect(
            Dictionary(uniqueKeysWithValues: listed.map { ($0.jti, $0.expiresAt) })
                == ["b": Fixtures.now.addingTimeInterval(600), "c": Fixtures.now.addingTimeInterval(900)])
        #expect(try await storage.revokedTokens(expiringAfter: Fixtures.now.addingTimeInterval(601), limit: 10).map(\.jti) == ["c"])
        #expect(try await storage.revokedTokens(expiringAfter: Fixtures.now, limit: 1).count == 1)
    }

    @Test(arguments: Backend.all)
    func auditEventsListNewestFirstWithFilters(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = UUID(), other = UUID()
        for (index, action) in ["a.create", "a.update", "a.create"].enumerated() {
            try await storage.appendAuditEvent(
                AuditEvent(
                    tenantID: tenant, actor: "x", action: action, resourceType: "a", resourceID: "\(index)",
                    outcome: index == 1 ? .failure : .success, status: 200, requestID: nil, at: Fixtures.now
                ))
        }
        try await storage.appendAuditEvent(
            AuditEvent(
                tenantID: other, actor: "y", action: "a.create", resourceType: "a", resourceID: nil, outcome: .success, status: 201,
                requestID: "r", at: Fixtures.now
            ))
        let all = try await storage.auditEvents(tenantID: tenant, filter: AuditFilter(), beforeID: nil, limit: 10)
        #expect(all.map(\.resourceID) == ["2", "1", "0"])
        let creates = try await storage.auditEvents(tenantID: tenant, filter: AuditFilter(action: "a.create"), beforeID: nil, limit: 10)
        #expect(creates.map(\.resourceID) == ["2", "0"])
        let older = try await storage.auditEvents(tenantID: tenant, filter: AuditFilter(), beforeID: all[0].id, limit: 1)
        #expect(older.map(\.resourceID) == ["1"])
        #expect(try await storage.auditEvents(tenantID: tenant, filter: AuditFilter(outcome: .failure), beforeID: nil, limit: 10).count == 1)
    }

    @Test(arguments: Backend.all)
    func clientKeysAndAssertionIDs(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme"), roles: [])
        let (account, secret) = Fixtures.account(in: tenant, name: "jwt")
        _ = try await storage.createServiceAccount(account, secret: secret, limit: nil)
        let jwk = try SigningKey.generate(.es256).publicJWK
        let key = ClientKey(accountID: account.id, kid: "k1", jwk: jwk, createdAt: Fixtures.now, expiresAt: Fixtures.now.addingTimeInterval(60))
        try await storage.addClientKey(key, limit: 2)
        let duplicate = await #expect(throws: StoreError.self) { try await storage.addClientKey(key, limit: 2) }
        #expect(duplicate?.isConflict == true)
        var second = key
        second.kid = "k2"
        try await storage.addClientKey(second, limit: 2)
        var third = key
        third.kid = "k3"
        let full = await #expect(throws: StoreError.self) { try await storage.addClientKey(third, limit: 2) }
        #expect(full?.isLimitReached == true)
        #expect(try await storage.clientKeys(accountID: account.id) == [key, second])
        #expect(try await storage.deleteClientKey(kid: "k1", accountID: account.id))
        #expect(try await storage.deleteClientKey(kid: "k1", accountID: account.id) == false)

        #expect(try await storage.useAssertionID("j", clientID: "c", expiresAt: Fixtures.now))
        #expect(try await storage.useAssertionID("j", clientID: "c", expiresAt: Fixtures.now) == false)
        #expect(try await storage.useAssertionID("j", clientID: "other", expiresAt: Fixtures.now))
        #expect(try await storage.purgeAssertionIDs(expiredBefore: Fixtures.now.addingTimeInterval(1)) == 2)
        #expect(try await storage.useAssertionID("j", clientID: "c", expiresAt: Fixtures.now))
    }

    @Test(arguments: Backend.all)
    func federatedCredentialsAreFoundByAccountAndIssuerAndGoWithTheAccount(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let acme = try await storage.createTenant(Fixtures.tenant("acme"), roles: [])
        let umbrella = try await storage.createTenant(Fixtures.tenant("umbrella"), roles: [])
        let (account, secret) = Fixtures.account(in: acme, name: "deploy")
        _ = try await storage.createServiceAccount(account, secret: secret, limit: nil)
        let (other, otherSecret) = Fixtures.account(in: umbrella, name: "deploy")
        _ = try await storage.createServiceAccount(other, secret: otherSecret, limit: nil)
        let github = "https://token.actions.githubusercontent.com"
        let first = FederatedCredential(
            id: UUID(), tenantID: acme.id, accountID: account.id, name: "main", issuer: github, audience: "https://auth.example",
            subject: "repo:acme/deploy:ref:refs/heads/main", claims: ["environment": "prod*", "kubernetes.io.namespace": "shop"],
            scopes: ["deploy", "read"], jwksURI: nil, jwks: #"{"keys":[]}"#, allowWithoutJTI: true, createdAt: Fixtures.now
        )
        try await storage.createFederatedCredential(first, limit: 2)
        var renamed = first
        renamed.id = UUID()
        let duplicate = await #expect(throws: StoreError.self) { try await storage.createFederatedCredential(renamed, limit: 2) }
        #expect(duplicate?.isConflict == true)
        renamed.name = "tags"
        renamed.scopes = nil
        renamed.jwks = nil
        renamed.jwksURI = "https://example.org/jwks"
        renamed.allowWithoutJTI = false
        renamed.createdAt = Fixtures.now.addingTimeInterval(1)
        try await storage.createFederatedCredential(renamed, limit: 2)
        var third = renamed
        third.id = UUID()
        third.name = "third"
        let full = await #expect(throws: StoreError.self) { try await storage.createFederatedCredential(third, limit: 2) }
        #expect(full?.isLimitReached == true)
        var elsewhere = first
        elsewhere.id = UUID()
        elsewhere.tenantID = umbrella.id
        elsewhere.accountID = other.id
        elsewhere.createdAt = Fixtures.now.addingTimeInterval(2)
        try await storage.createFederatedCredential(elsewhere, limit: 2)
        var orphan = first
        orphan.id = UUID()
        orphan.accountID = UUID()
        let missing = await #expect(throws: StoreError.self) { try await storage.createFederatedCredential(orphan, limit: 2) }
        #expect(missing?.isNotFound == true)

        #expect(try await storage.federatedCredentials(accountID: account.id) == [first, renamed])
        #expect(try await storage.federatedCredentials(issuer: github, limit: 10) == [first, renamed, elsewhere])
        #expect(try await storage.federatedCredentials(issuer: github, limit: 2) == [first, renamed])
        #expect(try await storage.federatedCredentials(issuer: github + "/", limit: 10) == [])
        #expect(try await storage.deleteFederatedCredential(id: first.id, accountID: other.id) == false)
        #expect(try await storage.deleteFederatedCredential(id: first.id, accountID: account.id))
        #expect(try await storage.deleteFederatedCredential(id: first.id, accountID: account.id) == false)
        #expect(try await storage.deleteServiceAccount(id: account.id, tenantID: acme.id))
        #expect(try await storage.federatedCredentials(issuer: github, limit: 10) == [elsewhere])
    }

    @Test(arguments: Backend.all)
    func anAuditEventKeepsItsDetail(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        let tenant = try await storage.createTenant(Fixtures.tenant("acme"), roles: [])
        let event = AuditEvent(
            tenantID: tenant.id, actor: "system:serviceaccount:shop:default", action: "federation.exchange", resourceType: "federated_credential",
            resourceID: nil, outcome: .failure, status: 400, requestID: "r1", at: Fixtures.now, detail: "jti \"x\" was used before"
        )
        try await storage.appendAuditEvent(event)
        let stored = try await storage.auditEvents(tenantID: tenant.id, filter: AuditFilter(), beforeID: nil, limit: 10)
        #expect(stored.map(\.detail) == ["jti \"x\" was used before"])
        #expect(stored.map(\.actor) == ["system:serviceaccount:shop:default"])
    }

    @Test(arguments: Backend.all)
    func pingAnswers(_ backend: Backend) async throws {
        let (storage, cleanup) = try await backend.make()
        defer { cleanup() }
        try await storage.ping()
    }
}
