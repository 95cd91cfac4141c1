import Foundation

/// Why a store refused an operation.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case conflict
        case limitReached
        case notFound
        case unavailable
    }

    private let code: Code
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A uniqueness rule would break (a duplicate name, slug or id).
    public static func conflict(_ message: String) -> StoreError { StoreError(.conflict, message) }
    /// The tenant's account limit would be exceeded.
    public static func limitReached(_ message: String) -> StoreError { StoreError(.limitReached, message) }
    /// A referenced row does not exist.
    public static func notFound(_ message: String) -> StoreError { StoreError(.notFound, message) }
    /// The database cannot be reached or answered with an error.
    public static func unavailable(_ message: String) -> StoreError { StoreError(.unavailable, message) }

    public var isConflict: Bool { code == .conflict }
    public var isLimitReached: Bool { code == .limitReached }
    public var isNotFound: Bool { code == .notFound }
    public var isUnavailable: Bool { code == .unavailable }

    public var description: String { message }
}

/// Tenants and their role catalogues.
public protocol TenantStorage: Sendable {
    /// Inserts the tenant with the given roles, assigning its `number`.
    /// Throws ``StoreError/conflict(_:)`` when the id or slug is taken.
    func createTenant(_ tenant: Tenant, roles: [Role]) async throws -> Tenant
    func tenant(id: UUID) async throws -> Tenant?
    func tenant(slug: String) async throws -> Tenant?
    func roles(tenantID: UUID) async throws -> [Role]
    /// Tenants ordered by `number`, those after `afterNumber`, at most `limit`.
    func listTenants(afterNumber: Int?, limit: Int) async throws -> [Tenant]
    /// Replaces the tenant's mutable fields (name, limit, lifetime, audience, updated_at).
    func updateTenant(_ tenant: Tenant) async throws
    /// Throws ``StoreError/conflict(_:)`` when the name is taken in the tenant.
    func createRole(_ role: Role, tenantID: UUID) async throws
    /// Replaces a role's scopes; throws ``StoreError/notFound(_:)`` when there is no such role.
    func updateRole(_ role: Role, tenantID: UUID) async throws
    /// Deletes a role. Throws ``StoreError/conflict(_:)`` when an account (or a project
    /// membership) still holds it, ``StoreError/notFound(_:)`` when there is none.
    func deleteRole(name: String, tenantID: UUID) async throws
}

extension ServiceAccountStorage {
    /// Reads the accounts, then transforms them on the caller's executor.
    public func listServiceAccounts<Output: Sendable>(
        tenantID: UUID, filter: ServiceAccountFilter, afterNumber: Int?, limit: Int,
        transform: @escaping @Sendable ([ServiceAccount]) -> Output
    ) async throws -> Output {
        transform(try await listServiceAccounts(tenantID: tenantID, filter: filter, afterNumber: afterNumber, limit: limit))
    }
}

/// Service accounts and their secrets.
public protocol ServiceAccountStorage: Sendable {
    /// Inserts the account and its first secret (if any) in one durable transaction,
    /// assigning the account's `number`. Throws ``StoreError/conflict(_:)`` for a
    /// duplicate name in the tenant and ``StoreError/limitReached(_:)`` when the
    /// tenant already holds `limit` accounts.
    func createServiceAccount(_ account: ServiceAccount, secret: ClientSecret?, limit: Int?) async throws -> ServiceAccount
    func serviceAccount(id: UUID, tenantID: UUID) async throws -> ServiceAccount?
    /// The account with this client id and all of its secrets, for authentication.
    func credentials(clientID: String) async throws -> (account: ServiceAccount, secrets: [ClientSecret])?
    /// The client id of the account that holds the secret with this id, or `nil`:
    /// some seed APIs hand out a secret's id as the id a client authenticates with.
    func clientID(ofSecret secretID: UUID) async throws -> String?
    /// The client id of the account holding the API token (a ``ClientSecret`` of kind
    /// ``ClientSecret/Kind/apiToken``) whose SHA-256 digest is `digest`, or `nil`.
    func clientID(ofAPITokenDigest digest: [UInt8]) async throws -> String?
    func countServiceAccounts(tenantID: UUID) async throws -> Int
    /// Writes `last_used_at` for many accounts and secrets at once; rows that no
    /// longer exist are skipped.
    func recordUsage(accounts: [UUID: Date], secrets: [UUID: Date]) async throws
    /// The tenant's accounts matching `filter`, ordered by `number`, after `afterNumber`, at most `limit`.
    func listServiceAccounts(tenantID: UUID, filter: ServiceAccountFilter, afterNumber: Int?, limit: Int) async throws -> [ServiceAccount]
    /// The same accounts, given to `transform` where they were read, and what it
    /// returns. A store whose reads run on worker threads (SQLite) calls `transform`
    /// there, so that turning a page into its response is spread over the cores
    /// instead of waiting for the event loop of the connection that asked.
    func listServiceAccounts<Output: Sendable>(
        tenantID: UUID, filter: ServiceAccountFilter, afterNumber: Int?, limit: Int,
        transform: @escaping @Sendable ([ServiceAccount]) -> Output
    ) async throws -> Output
    /// Replaces the account's mutable fields. Throws ``StoreError/conflict(_:)`` for a
    /// name taken in the tenant, ``StoreError/notFound(_:)`` when it is gone.
    func updateServiceAccount(_ account: ServiceAccount) async throws
    /// Deletes the account and its secrets; false when there was none.
    func deleteServiceAccount(id: UUID, tenantID: UUID) async throws -> Bool
    func secrets(accountID: UUID) async throws -> [ClientSecret]
    /// Throws ``StoreError/conflict(_:)`` when the name is taken for the account,
    /// ``StoreError/limitReached(_:)`` when the account holds `limit` secrets.
    func createSecret(_ secret: ClientSecret, limit: Int) async throws
    /// Replaces `enabled`; throws ``StoreError/notFound(_:)`` when the secret is gone.
    func updateSecret(_ secret: ClientSecret) async throws
    /// False when there was no such secret on the account.
    func deleteSecret(id: UUID, accountID: UUID) async throws -> Bool
}

/// The denylist of revoked access tokens (RFC 7009), kept until the tokens would
/// have expired.
public protocol RevocationStorage: Sendable {
    /// Adds `jti`; revoking it again changes nothing.
    func revokeToken(jti: String, tenantID: UUID, expiresAt: Date, revokedAt: Date) async throws
    func isTokenRevoked(jti: String) async throws -> Bool
    /// Forgets entries whose token expired before `date`; returns how many.
    @discardableResult
    func purgeRevokedTokens(expiredBefore date: Date) async throws -> Int
    /// Up to `limit` entries whose token expires at or after `date`, in no particular order.
    func revokedTokens(expiringAfter date: Date, limit: Int) async throws -> [(jti: String, expiresAt: Date)]
}

/// Public keys for `private_key_jwt`, and the assertion ids already used (RFC 7523 §3, replay).
public protocol ClientKeyStorage: Sendable {
    func clientKeys(accountID: UUID) async throws -> [ClientKey]
    /// Throws ``StoreError/conflict(_:)`` when the account has a key with this kid,
    /// ``StoreError/limitReached(_:)`` when it holds `limit` keys.
    func addClientKey(_ key: ClientKey, limit: Int) async throws
    /// False when the account had no such key.
    func deleteClientKey(kid: String, accountID: UUID) async throws -> Bool
    /// Records an assertion's `jti` for `clientID`; false when it was used before.
    func useAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool
    /// Forgets assertion ids that expired before `date`.
    @discardableResult
    func purgeAssertionIDs(expiredBefore date: Date) async throws -> Int
}

/// Federated credentials: which outside issuers' tokens stand for an account
/// (docs/federation.md). Deleting an account deletes its credentials.
public protocol FederatedCredentialStorage: Sendable {
    /// Throws ``StoreError/conflict(_:)`` when the account has a credential with this
    /// name, ``StoreError/limitReached(_:)`` when it holds `limit` of them, and
    /// ``StoreError/notFound(_:)`` when the account is gone.
    func createFederatedCredential(_ credential: FederatedCredential, limit: Int) async throws
    /// The account's credentials, oldest first.
    func federatedCredentials(accountID: UUID) async throws -> [FederatedCredential]
    /// The credentials, of any tenant, that trust this issuer (its `iss` exactly),
    /// oldest first, at most `limit`.
    func federatedCredentials(issuer: String, limit: Int) async throws -> [FederatedCredential]
    /// False when the account had no such credential.
    func deleteFederatedCredential(id: UUID, accountID: UUID) async throws -> Bool
}

/// The audit log.
public protocol AuditStorage: Sendable {
    /// Appends an event; the store assigns its id.
    func appendAuditEvent(_ event: AuditEvent) async throws
    /// The tenant's events matching `filter`, newest first, older than `beforeID`, at most `limit`.
    func auditEvents(tenantID: UUID, filter: AuditFilter, beforeID: Int64?, limit: Int) async throws -> [AuditEvent]
}

/// The issuer's signing keys.
public protocol SigningKeyStorage: Sendable {
    func signingKeys() async throws -> [StoredSigningKey]
    /// Inserts a key. When `state` is `active`, it becomes the active key only if
    /// no other key is active, so two processes starting at once agree on one;
    /// returns false when another active key won.
    func insertSigningKey(_ key: StoredSigningKey) async throws -> Bool
    /// In one transaction: when `kid` is the `next` key, retires the active key
    /// (`retired_at = now`) and makes `kid` active. False when `kid` is not `next`
    /// (another process promoted it already).
    func promoteSigningKey(kid: String, now: Date) async throws -> Bool
    /// Removes a retired key that no longer needs publishing.
    func deleteSigningKey(kid: String) async throws
}

/// Everything Tessera keeps. Each backend implements all of it and passes the
/// shared conformance suite.
public typealias Storage = TenantStorage & ServiceAccountStorage & SigningKeyStorage & AuditStorage & RevocationStorage & ClientKeyStorage
    & FederatedCredentialStorage & StorageHealth

/// A cheap round trip to the database, for readiness checks.
public protocol StorageHealth: Sendable {
    func ping() async throws
}

/// A change committed to a store that several processes share, as far as the
/// in-memory caches are concerned.
public enum StoreChange: Sendable, Hashable {
    /// The record of this client id changed (account, secrets, keys; or it was created or deleted).
    case client(String)
    /// Anything may have changed: roles, a tenant, or notifications were lost.
    case everything
    /// The signing keys changed (rotation, promotion, retirement).
    case signingKeys
}

/// A store that tells every process about changes committed by any of them
/// (PostgreSQL `LISTEN/NOTIFY`), so caches follow within a second instead of a TTL.
public protocol ChangeFeed: Sendable {
    /// Calls `handle` for each change until cancelled or the connection fails (then
    /// it throws; the caller retries). Starts with ``StoreChange/everything``, since
    /// changes made while nobody listened are not replayed.
    func followChanges(_ handle: @escaping @Sendable (StoreChange) async -> Void) async throws
}
