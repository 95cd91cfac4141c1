import Foundation
import Synchronization
import TesseraCore

// Copies of TesseraCoreTests' TestClock and SwitchableStorage, for ServerHarness
// (test targets cannot import one another).

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    var now: Date { current.withLock { $0 } }

    func advance(_ seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// A store that can be switched off, failing every call as an unreachable database does.
final class SwitchableStorage: Storage {
    let base: any Storage
    let down = Mutex(false)
    /// Fails every call with an error that is no ``StoreError``, as a store that
    /// met something it does not classify (a row it cannot decode) would.
    let broken = Mutex(false)

    /// The error a broken store throws.
    struct UnclassifiedFailure: Error {}

    init(_ base: any Storage) { self.base = base }

    private func check() throws {
        if down.withLock({ $0 }) { throw StoreError.unavailable("switched off") }
        if broken.withLock({ $0 }) { throw UnclassifiedFailure() }
    }

    func createTenant(_ tenant: Tenant, roles: [Role]) async throws -> Tenant { try check(); return try await base.createTenant(tenant, roles: roles) }
    func tenant(id: UUID) async throws -> Tenant? { try check(); return try await base.tenant(id: id) }
    func tenant(slug: String) async throws -> Tenant? { try check(); return try await base.tenant(slug: slug) }
    func roles(tenantID: UUID) async throws -> [Role] { try check(); return try await base.roles(tenantID: tenantID) }
    func listTenants(afterNumber: Int?, limit: Int) async throws -> [Tenant] { try check(); return try await base.listTenants(afterNumber: afterNumber, limit: limit) }
    func updateTenant(_ tenant: Tenant) async throws { try check(); try await base.updateTenant(tenant) }
    func createRole(_ role: Role, tenantID: UUID) async throws { try check(); try await base.createRole(role, tenantID: tenantID) }
    func updateRole(_ role: Role, tenantID: UUID) async throws { try check(); try await base.updateRole(role, tenantID: tenantID) }
    func deleteRole(name: String, tenantID: UUID) async throws { try check(); try await base.deleteRole(name: name, tenantID: tenantID) }
    func createServiceAccount(_ account: ServiceAccount, secret: ClientSecret, limit: Int?) async throws -> ServiceAccount {
        try check(); return try await base.createServiceAccount(account, secret: secret, limit: limit)
    }
    func serviceAccount(id: UUID, tenantID: UUID) async throws -> ServiceAccount? { try check(); return try await base.serviceAccount(id: id, tenantID: tenantID) }
    func credentials(clientID: String) async throws -> (account: ServiceAccount, secrets: [ClientSecret])? {
        try check(); return try await base.credentials(clientID: clientID)
    }
    func countServiceAccounts(tenantID: UUID) async throws -> Int { try check(); return try await base.countServiceAccounts(tenantID: tenantID) }
    func clientID(ofSecret secretID: UUID) async throws -> String? { try check(); return try await base.clientID(ofSecret: secretID) }
    func recordUsage(accounts: [UUID: Date], secrets: [UUID: Date]) async throws { try check(); try await base.recordUsage(accounts: accounts, secrets: secrets) }
    func listServiceAccounts(tenantID: UUID, filter: ServiceAccountFilter, afterNumber: Int?, limit: Int) async throws -> [ServiceAccount] {
        try check(); return try await base.listServiceAccounts(tenantID: tenantID, filter: filter, afterNumber: afterNumber, limit: limit)
    }
    func updateServiceAccount(_ account: ServiceAccount) async throws { try check(); try await base.updateServiceAccount(account) }
    func deleteServiceAccount(id: UUID, tenantID: UUID) async throws -> Bool { try check(); return try await base.deleteServiceAccount(id: id, tenantID: tenantID) }
    func secrets(accountID: UUID) async throws -> [ClientSecret] { try check(); return try await base.secrets(accountID: accountID) }
    func createSecret(_ secret: ClientSecret, limit: Int) async throws { try check(); try await base.createSecret(secret, limit: limit) }
    func updateSecret(_ secret: ClientSecret) async throws { try check(); try await base.updateSecret(secret) }
    func deleteSecret(id: UUID, accountID: UUID) async throws -> Bool { try check(); return try await base.deleteSecret(id: id, accountID: accountID) }
    func signingKeys() async throws -> [StoredSigningKey] { try check(); return try await base.signingKeys() }
    func insertSigningKey(_ key: StoredSigningKey) async throws -> Bool { try check(); return try await base.insertSigningKey(key) }
    func promoteSigningKey(kid: String, now: Date) async throws -> Bool { try check(); return try await base.promoteSigningKey(kid: kid, now: now) }
    func deleteSigningKey(kid: String) async throws { try check(); try await base.deleteSigningKey(kid: kid) }
    func appendAuditEvent(_ event: AuditEvent) async throws { try check(); try await base.appendAuditEvent(event) }
    func auditEvents(tenantID: UUID, filter: AuditFilter, beforeID: Int64?, limit: Int) async throws -> [AuditEvent] {
        try check(); return try await base.auditEvents(tenantID: tenantID, filter: filter, beforeID: beforeID, limit: limit)
    }
    func revokeToken(jti: String, tenantID: UUID, expiresAt: Date, revokedAt: Date) async throws {
        try check(); try await base.revokeToken(jti: jti, tenantID: tenantID, expiresAt: expiresAt, revokedAt: revokedAt)
    }
    func isTokenRevoked(jti: String) async throws -> Bool { try check(); return try await base.isTokenRevoked(jti: jti) }
    func purgeRevokedTokens(expiredBefore date: Date) async throws -> Int { try check(); return try await base.purgeRevokedTokens(expiredBefore: date) }
    func revokedTokens(expiringAfter date: Date, limit: Int) async throws -> [(jti: String, expiresAt: Date)] {
        try check(); return try await base.revokedTokens(expiringAfter: date, limit: limit)
    }
    func clientKeys(accountID: UUID) async throws -> [ClientKey] { try check(); return try await base.clientKeys(accountID: accountID) }
    func addClientKey(_ key: ClientKey, limit: Int) async throws { try check(); try await base.addClientKey(key, limit: limit) }
    func deleteClientKey(kid: String, accountID: UUID) async throws -> Bool { try check(); return try await base.deleteClientKey(kid: kid, accountID: accountID) }
    func useAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool {
        try check(); return try await base.useAssertionID(jti, clientID: clientID, expiresAt: expiresAt)
    }
    func purgeAssertionIDs(expiredBefore date: Date) async throws -> Int { try check(); return try await base.purgeAssertionIDs(expiredBefore: date) }
    func ping() async throws { try check(); try await base.ping() }
}
