import Foundation
import Synchronization
import TesseraCore

// Test doubles shared by the test targets.

/// A clock tests move by hand.
public final class TestClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    public func advance(_ seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// A store that can be switched off, failing every call as an unreachable database does.
public final class SwitchableStorage: Storage {
    public let base: any Storage
    public let down = Mutex(false)
    /// Fails every call with an error that is no ``StoreError``, as a store that
    /// met something it does not classify (a row it cannot decode) would.
    public let broken = Mutex(false)

    /// The error a broken store throws.
    public struct UnclassifiedFailure: Error {}

    public enum Read: Sendable { case credentials, tenant, roles }

    /// Runs once, after the next read of its kind has read the store and before
    /// it returns: a test holds a load there while a change commits, as a slow
    /// read would on a busy server.
    public let afterRead = Mutex<(read: Read, hook: @Sendable () async -> Void)?>(nil)

    public init(_ base: any Storage) { self.base = base }

    private func held<T>(_ read: Read, _ value: T) async -> T {
        let hook = afterRead.withLock { pending -> (@Sendable () async -> Void)? in
            guard let current = pending, current.read == read else { return nil }
            pending = nil
            return current.hook
        }
        await hook?()
        return value
    }

    private func check() throws {
        if down.withLock({ $0 }) { throw StoreError.unavailable("switched off") }
        if broken.withLock({ $0 }) { throw UnclassifiedFailure() }
    }

    public func createTenant(_ tenant: Tenant, roles: [Role]) async throws -> Tenant {
        try check()
        return try await base.createTenant(tenant, roles: roles)
    }
    public func tenant(id: UUID) async throws -> Tenant? {
        try check()
        return await held(.tenant, try await base.tenant(id: id))
    }
    public func tenant(slug: String) async throws -> Tenant? {
        try check()
        return await held(.tenant, try await base.tenant(slug: slug))
    }
    public func roles(tenantID: UUID) async throws -> [Role] {
        try check()
        return await held(.roles, try await base.roles(tenantID: tenantID))
    }
    public func listTenants(afterNumber: Int?, limit: Int) async throws -> [Tenant] {
        try check()
        return try await base.listTenants(afterNumber: afterNumber, limit: limit)
    }
    public func updateTenant(_ tenant: Tenant) async throws {
        try check()
        try await base.updateTenant(tenant)
    }
    public func createRole(_ role: Role, tenantID: UUID) async throws {
        try check()
        try await base.createRole(role, tenantID: tenantID)
    }
    public func updateRole(_ role: Role, tenantID: UUID) async throws {
        try check()
        try await base.updateRole(role, tenantID: tenantID)
    }
    public func deleteRole(name: String, tenantID: UUID) async throws {
        try check()
        try await base.deleteRole(name: name, tenantID: tenantID)
    }
    public func createServiceAccount(_ account: ServiceAccount, secret: ClientSecret?, limit: Int?) async throws -> ServiceAccount {
        try check()
        return try await base.createServiceAccount(account, secret: secret, limit: limit)
    }
    public func serviceAccount(id: UUID, tenantID: UUID) async throws -> ServiceAccount? {
        try check()
        return try await base.serviceAccount(id: id, tenantID: tenantID)
    }
    public func credentials(clientID: String) async throws -> (account: ServiceAccount, secrets: [ClientSecret])? {
        try check()
        return await held(.credentials, try await base.credentials(clientID: clientID))
    }
    public func countServiceAccounts(tenantID: UUID) async throws -> Int {
        try check()
        return try await base.countServiceAccounts(tenantID: tenantID)
    }
    public func clientID(ofSecret secretID: UUID) async throws -> String? {
        try check()
        return try await base.clientID(ofSecret: secretID)
    }
    public func clientID(ofAPITokenDigest digest: [UInt8]) async throws -> String? {
        try check()
        return try await base.clientID(ofAPITokenDigest: digest)
    }
    public func recordUsage(accounts: [UUID: Date], secrets: [UUID: Date]) async throws {
        try check()
        try await base.recordUsage(accounts: accounts, secrets: secrets)
    }
    public func listServiceAccounts(tenantID: UUID, filter: ServiceAccountFilter, afterNumber: Int?, limit: Int) async throws -> [ServiceAccount] {
        try check()
        return try await base.listServiceAccounts(tenantID: tenantID, filter: filter, afterNumber: afterNumber, limit: limit)
    }
    public func listServiceAccounts<Output: Sendable>(
        tenantID: UUID, filter: ServiceAccountFilter, afterNumber: Int?, limit: Int, transform: @escaping @Sendable ([ServiceAccount]) -> Output
    ) async throws -> Output {
        try check()
        return try await base.listServiceAccounts(tenantID: tenantID, filter: filter, afterNumber: afterNumber, limit: limit, transform: transform)
    }
    public func updateServiceAccount(_ account: ServiceAccount) async throws {
        try check()
        try await base.updateServiceAccount(account)
    }
    public func deleteServiceAccount(id: UUID, tenantID: UUID) async throws -> Bool {
        try check()
        return try await base.deleteServiceAccount(id: id, tenantID: tenantID)
    }
    public func secrets(accountID: UUID) async throws -> [ClientSecret] {
        try check()
        return try await base.secrets(accountID: accountID)
    }
    public func createSecret(_ secret: ClientSecret, limit: Int) async throws {
        try check()
        try await base.createSecret(secret, limit: limit)
    }
    public func updateSecret(_ secret: ClientSecret) async throws {
        try check()
        try await base.updateSecret(secret)
    }
    public func deleteSecret(id: UUID, accountID: UUID) async throws -> Bool {
        try check()
        return try await base.deleteSecret(id: id, accountID: accountID)
    }
    public func signingKeys() async throws -> [StoredSigningKey] {
        try check()
        return try await base.signingKeys()
    }
    public func insertSigningKey(_ key: StoredSigningKey) async throws -> Bool {
        try check()
        return try await base.insertSigningKey(key)
    }
    public func promoteSigningKey(kid: String, now: Date) async throws -> Bool {
        try check()
        return try await base.promoteSigningKey(kid: kid, now: now)
    }
    public func deleteSigningKey(kid: String) async throws {
        try check()
        try await base.deleteSigningKey(kid: kid)
    }
    public func appendAuditEvent(_ event: AuditEvent) async throws {
        try check()
        try await base.appendAuditEvent(event)
    }
    public func auditEvents(tenantID: UUID, filter: AuditFilter, beforeID: Int64?, limit: Int) async throws -> [AuditEvent] {
        try check()
        return try await base.auditEvents(tenantID: tenantID, filter: filter, beforeID: beforeID, limit: limit)
    }
    public func revokeToken(jti: String, tenantID: UUID, expiresAt: Date, revokedAt: Date) async throws {
        try check()
        try await base.revokeToken(jti: jti, tenantID: tenantID, expiresAt: expiresAt, revokedAt: revokedAt)
    }
    public func isTokenRevoked(jti: String) async throws -> Bool {
        try check()
        return try await base.isTokenRevoked(jti: jti)
    }
    public func purgeRevokedTokens(expiredBefore date: Date) async throws -> Int {
        try check()
        return try await base.purgeRevokedTokens(expiredBefore: date)
    }
    public func revokedTokens(expiringAfter date: Date, limit: Int) async throws -> [(jti: String, expiresAt: Date)] {
        try check()
        return try await base.revokedTokens(expiringAfter: date, limit: limit)
    }
    public func clientKeys(accountID: UUID) async throws -> [ClientKey] {
        try check()
        return try await base.clientKeys(accountID: accountID)
    }
    public func addClientKey(_ key: ClientKey, limit: Int) async throws {
        try check()
        try await base.addClientKey(key, limit: limit)
    }
    public func deleteClientKey(kid: String, accountID: UUID) async throws -> Bool {
        try check()
        return try await base.deleteClientKey(kid: kid, accountID: accountID)
    }
    public func useAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool {
        try check()
        return try await base.useAssertionID(jti, clientID: clientID, expiresAt: expiresAt)
    }
    public func purgeAssertionIDs(expiredBefore date: Date) async throws -> Int {
        try check()
        return try await base.purgeAssertionIDs(expiredBefore: date)
    }
    public func createFederatedCredential(_ credential: FederatedCredential, limit: Int) async throws {
        try check()
        try await base.createFederatedCredential(credential, limit: limit)
    }
    public func federatedCredentials(accountID: UUID) async throws -> [FederatedCredential] {
        try check()
        return try await base.federatedCredentials(accountID: accountID)
    }
    public func federatedCredentials(issuer: String, limit: Int) async throws -> [FederatedCredential] {
        try check()
        return try await base.federatedCredentials(issuer: issuer, limit: limit)
    }
    public func deleteFederatedCredential(id: UUID, accountID: UUID) async throws -> Bool {
        try check()
        return try await base.deleteFederatedCredential(id: id, accountID: accountID)
    }
    public func ping() async throws {
        try check()
        try await base.ping()
    }
}

/// Lets other tests run, every 50 cases. Swift Testing runs tests in parallel on the
/// cooperative thread pool, one thread per core; a loop that never suspends holds a
/// thread that timing-sensitive tests (the rate limits) wait for.
public func yieldNowAndThen(_ index: Int) async {
    if index % 50 == 0 { await Task.yield() }
}

/// SplitMix64: a small, fast generator whose whole state is its seed, so that a
/// failing case can be replayed with `TESSERA_PROPERTY_SEED`.
public struct SeededRandom: RandomNumberGenerator {
    /// The seed this run started from, as a failure message shows it.
    public let seed: Seed
    private var state: UInt64

    public struct Seed: CustomStringConvertible {
        public let value: UInt64
        public var description: String { "seed \(value) (rerun with TESSERA_PROPERTY_SEED=\(value))" }
    }

    public init() {
        let given = ProcessInfo.processInfo.environment["TESSERA_PROPERTY_SEED"].flatMap { UInt64($0) }
        self.init(seed: given ?? UInt64.random(in: 0 ... .max))
    }

    public init(seed: UInt64) {
        self.seed = Seed(value: seed)
        state = seed
    }

    /// `count` random bytes.
    public mutating func bytes(count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0 ... .max, using: &self) }
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
