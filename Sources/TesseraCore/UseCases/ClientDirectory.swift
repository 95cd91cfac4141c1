import Foundation
import Metrics
import Synchronization

/// What the token endpoint needs to know about a client, resolved once and cached.
public struct ClientRecord: Sendable {
    public let account: ServiceAccount
    public let secrets: [ClientSecret]
    /// Public keys for `private_key_jwt`.
    public let keys: [ClientKey]
    public let tenant: Tenant
    /// The union of the scopes of the account's roles.
    public let allowedScopes: Set<String>
    /// What tokens carry, worked out once per load rather than per token: the
    /// account and tenant ids as `sub` and `tenant` (Foundation formats a UUID
    /// through `sprintf`), and every allowed scope in order.
    let subject: String
    let tenantClaim: String
    let sortedScopes: [String]

    init(account: ServiceAccount, secrets: [ClientSecret], keys: [ClientKey], tenant: Tenant, allowedScopes: Set<String>) {
        self.account = account
        self.secrets = secrets
        self.keys = keys
        self.tenant = tenant
        self.allowedScopes = allowedScopes
        subject = account.id.lowercased
        tenantClaim = tenant.id.lowercased
        sortedScopes = allowedScopes.sorted()
    }
}

/// An in-memory, bounded cache of client records by client id, so the token
/// endpoint reads nothing from disk in its steady state.
///
/// Entries live at most `timeToLive`, which bounds how long a change made by
/// another process can go unseen; changes made through this process call
/// ``invalidate(clientID:)`` and take effect at once. Unknown client ids are
/// cached too, so a flood of made-up ids cannot turn into a flood of queries.
///
/// An invalidation always wins over a load that ran beside it: every
/// invalidation advances a generation, and a load stores what it read only if
/// neither an invalidation of everything nor one of its own client came while it
/// read. Otherwise a load that read the store just before a change committed (an
/// account being disabled, a role losing a scope) would put the old record back
/// for a whole TTL. A change to another client does not stop the load: replicas
/// hear of other clients' changes all the time, and a known client must end up
/// cached so it is still answered while the store is away.
///
/// When the store is unavailable, an entry past its TTL is still answered for up
/// to `staleLimit`, so clients already known keep obtaining tokens through a
/// database restart; nothing can be changed in the store meanwhile anyway.
public final class ClientDirectory: Sendable {
    private struct Entry {
        let record: ClientRecord?
        let loadedAt: Date
    }

    private struct CachedTenant {
        let tenant: Tenant
        let roles: [Role]
        let loadedAt: Date
    }

    private struct State {
        var clients: [String: Entry] = [:]
        /// Tenants with their role catalogues, under the same TTL: the many clients
        /// of one tenant share one read of them.
        var tenants: [UUID: CachedTenant] = [:]
        /// Tenant ids by slug. A tenant's slug and id never change and tenants are
        /// never deleted, so a slug found is kept through every invalidation.
        var tenantIDs: [String: UUID] = [:]
        /// Which client holds a secret, by the secret's id (for clients that
        /// authenticate with a secret's id): a secret never changes hands, so a
        /// found owner is kept; an unknown id is kept until the next invalidation.
        var owners: [UUID: String?] = [:]
        /// Advanced by every invalidation; an unknown secret owner is kept only
        /// if this did not change while it was read.
        var generation: UInt64 = 0
        /// The generation of the last invalidation of everything; a load keeps
        /// its result only if this did not change while it read.
        var everything: UInt64 = 0
        /// The client loads under way, by client id: how many, and the generation
        /// of the last invalidation of that client while any of them ran.
        var loading: [String: (count: Int, invalidated: UInt64)] = [:]

        /// Registers a load of `clientID`; returns the generation it started at.
        mutating func beginLoad(_ clientID: String) -> UInt64 {
            loading[clientID, default: (0, 0)].count += 1
            return generation
        }

        /// Ends a load that started at `started`; whether what it read may be kept.
        mutating func endLoad(_ clientID: String, started: UInt64) -> Bool {
            guard var load = loading[clientID] else { return false }
            load.count -= 1
            loading[clientID] = load.count == 0 ? nil : load
            return load.invalidated <= started && everything <= started
        }

        mutating func invalidated(_ clientID: String) {
            if loading[clientID] != nil { loading[clientID]?.invalidated = generation }
        }

        /// Unknown secret ids may have become secrets: ask the store again.
        mutating func forgetUnknownOwners() {
            if owners.values.contains(where: { $0 == nil }) { owners = owners.filter { $0.value != nil } }
        }
    }

    private let storage: any TenantStorage & ServiceAccountStorage & ClientKeyStorage
    private let timeToLive: TimeInterval
    private let staleLimit: TimeInterval
    private let capacity: Int
    private let state = Mutex(State())
    private let hits = Counter(label: "tessera_client_cache_hits_total")
    private let loads = Counter(label: "tessera_client_cache_loads_total")

    public init(
        storage: any TenantStorage & ServiceAccountStorage & ClientKeyStorage, timeToLive: TimeInterval = 30, staleLimit: TimeInterval = 300,
        capacity: Int = 200_000
    ) {
        self.storage = storage
        self.timeToLive = timeToLive
        self.staleLimit = staleLimit
        self.capacity = capacity
    }

    /// The client with this id, or `nil` when there is none.
    public func client(id clientID: String, now: Date) async throws -> ClientRecord? {
        let cached = state.withLock { $0.clients[clientID] }
        if let cached, now.timeIntervalSince(cached.loadedAt) < timeToLive, cached.loadedAt <= now {
            hits.increment()
            return cached.record
        }
        loads.increment()
        let started = state.withLock { $0.beginLoad(clientID) }
        let record: ClientRecord?
        do {
            record = try await load(clientID, now: now, generation: started)
        } catch {
            _ = state.withLock { $0.endLoad(clientID, started: started) }
            guard let unavailable = error as? StoreError, unavailable.isUnavailable, let cached, cached.loadedAt <= now,
                now.timeIntervalSince(cached.loadedAt) < staleLimit
            else { throw error }
            return cached.record
        }
        state.withLock { state in
            guard state.endLoad(clientID, started: started) else { return }
            if state.clients.count >= capacity { state.clients.removeAll(keepingCapacity: true) }
            state.clients[clientID] = Entry(record: record, loadedAt: now)
        }
        return record
    }

    /// The client with this id as the cache holds it now, without reading the
    /// store and without counting: `.some(nil)` for a client known not to exist,
    /// `nil` when the cache has no fresh entry. A caller that uses the answer
    /// counts it with ``countHit()``.
    func cachedClient(id clientID: String, now: Date) -> ClientRecord?? {
        guard let cached = state.withLock({ $0.clients[clientID] }), now.timeIntervalSince(cached.loadedAt) < timeToLive, cached.loadedAt <= now
        else { return nil }
        return .some(cached.record)
    }

    /// Counts a cache hit that ``cachedClient(id:now:)`` answered.
    func countHit() { hits.increment() }

    /// The client that holds the secret with this id, or `nil`.
    public func client(holdingSecret secretID: UUID, now: Date) async throws -> ClientRecord? {
        let known = state.withLock { $0.owners[secretID] }
        let owner: String?
        if let known {
            owner = known
        } else {
            let generation = state.withLock { $0.generation }
            owner = try await storage.clientID(ofSecret: secretID)
            state.withLock { state in
                guard state.generation == generation || owner != nil else { return }
                if state.owners.count >= capacity { state.owners.removeAll(keepingCapacity: true) }
                state.owners[secretID] = .some(owner)
            }
        }
        guard let owner else { return nil }
        return try await client(id: owner, now: now)
    }

    /// The client that holds the API token with this digest, or `nil`. Not cached:
    /// API tokens serve the admin and seed APIs, not the token endpoint, and a
    /// token's owner is read anew each time, so a deleted token stops at once.
    public func client(holdingAPIToken digest: [UInt8], now: Date) async throws -> ClientRecord? {
        guard let owner = try await storage.clientID(ofAPITokenDigest: digest) else { return nil }
        return try await client(id: owner, now: now)
    }

    /// The tenant with this id, with its role catalogue, from the cache the client
    /// loads share: as fresh as what the token endpoint knows of a tenant (a change
    /// made through this process at once, one made elsewhere within the TTL or as the
    /// change feed tells). For reads that may be answered from it; a change to a
    /// tenant's accounts reads the store.
    public func tenant(id: UUID, now: Date) async throws -> Tenant? {
        if let cached = state.withLock({ $0.tenants[id] }), cached.loadedAt <= now, now.timeIntervalSince(cached.loadedAt) < timeToLive {
            return cached.tenant
        }
        let generation = state.withLock { $0.generation }
        guard let loaded = try await storage.tenant(id: id) else { return nil }
        let roles = try await storage.roles(tenantID: loaded.id)
        keep(loaded, roles: roles, loadedAt: now, generation: generation)
        return loaded
    }

    /// The tenant with this slug, as ``tenant(id:now:)`` answers it.
    public func tenant(slug: String, now: Date) async throws -> Tenant? {
        if let id = state.withLock({ $0.tenantIDs[slug] }) { return try await tenant(id: id, now: now) }
        let generation = state.withLock { $0.generation }
        guard let loaded = try await storage.tenant(slug: slug) else { return nil }
        let roles = try await storage.roles(tenantID: loaded.id)
        keep(loaded, roles: roles, loadedAt: now, generation: generation)
        return loaded
    }

    /// Caches a tenant read at `generation`, unless everything was invalidated
    /// since: that read may predate the change that invalidated it.
    private func keep(_ tenant: Tenant, roles: [Role], loadedAt: Date, generation: UInt64) {
        state.withLock { state in
            if state.tenantIDs.count >= capacity { state.tenantIDs.removeAll(keepingCapacity: true) }
            state.tenantIDs[tenant.slug] = tenant.id
            guard state.everything <= generation else { return }
            if state.tenants.count >= capacity { state.tenants.removeAll(keepingCapacity: true) }
            state.tenants[tenant.id] = CachedTenant(tenant: tenant, roles: roles, loadedAt: loadedAt)
        }
    }

    /// Forgets one client, so its next request reads the store; a load already
    /// reading it keeps its result to itself.
    public func invalidate(clientID: String) {
        state.withLock { state in
            state.generation &+= 1
            state.clients.removeValue(forKey: clientID)
            state.invalidated(clientID)
            state.forgetUnknownOwners()
        }
    }

    /// Forgets every client and tenant (after a change to roles or a tenant).
    public func invalidateAll() {
        state.withLock { state in
            state.generation &+= 1
            state.everything = state.generation
            state.clients.removeAll()
            state.tenants.removeAll()
            state.forgetUnknownOwners()
        }
    }

    private func load(_ clientID: String, now: Date, generation: UInt64) async throws -> ClientRecord? {
        guard let (account, secrets) = try await storage.credentials(clientID: clientID) else { return nil }
        let tenant: Tenant, roles: [Role]
        if let cached = state.withLock({ $0.tenants[account.tenantID] }), cached.loadedAt <= now,
            now.timeIntervalSince(cached.loadedAt) < timeToLive
        {
            (tenant, roles) = (cached.tenant, cached.roles)
        } else {
            guard let loaded = try await storage.tenant(id: account.tenantID) else { return nil }
            (tenant, roles) = (loaded, try await storage.roles(tenantID: loaded.id))
            keep(loaded, roles: roles, loadedAt: now, generation: generation)
        }
        let granted = Set(account.roles)
        let allowed = roles.filter { granted.contains($0.name) }.reduce(into: Set<String>()) { $0.formUnion($1.scopes) }
        let keys = try await storage.clientKeys(accountID: account.id)
        return ClientRecord(account: account, secrets: secrets, keys: keys, tenant: tenant, allowedScopes: allowed)
    }
}
