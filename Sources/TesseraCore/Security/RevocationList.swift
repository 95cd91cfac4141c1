import Foundation
import Synchronization

/// The denylist of revoked tokens held in memory, in front of a store that only
/// this process writes (the embedded SQLite, DESIGN §1). Every revocation passes
/// through here, so the copy is exact and introspection answers without a read;
/// the store stays the record, and a restart loads the copy from it.
///
/// Not for a shared store (PostgreSQL): there another replica's revocation must
/// count at once, so each check reads the store. Beyond `capacity` unexpired
/// entries the copy is dropped and checks read the store, until a purge brings
/// the count back under it.
public final class RevocationList: RevocationStorage {
    private let storage: any RevocationStorage
    private let capacity: Int
    /// `jti` → when its token expires; `nil` while not loaded, or over capacity.
    private let entries = Mutex<[String: Date]?>(nil)

    public init(storage: any RevocationStorage, capacity: Int = 200_000) {
        self.storage = storage
        self.capacity = capacity
    }

    /// Whether checks are answered from memory.
    public var isLoaded: Bool { entries.withLock { $0 != nil } }

    /// Reads every unexpired entry from the store; over capacity, leaves checks to the store.
    public func load(now: Date) async throws {
        let stored = try await storage.revokedTokens(expiringAfter: now, limit: capacity + 1)
        let loaded = stored.count > capacity ? nil : Dictionary(stored.map { ($0.jti, $0.expiresAt) }) { first, _ in first }
        entries.withLock { $0 = loaded }
    }

    public func revokeToken(jti: String, tenantID: UUID, expiresAt: Date, revokedAt: Date) async throws {
        try await storage.revokeToken(jti: jti, tenantID: tenantID, expiresAt: expiresAt, revokedAt: revokedAt)
        entries.withLock { entries in
            entries?[jti] = expiresAt
            if let count = entries?.count, count > capacity { entries = nil }
        }
    }

    public func isTokenRevoked(jti: String) async throws -> Bool {
        switch entries.withLock({ $0.map { $0[jti] != nil } }) {
        case let answer?: answer
        case nil: try await storage.isTokenRevoked(jti: jti)
        }
    }

    @discardableResult
    public func purgeRevokedTokens(expiredBefore date: Date) async throws -> Int {
        let purged = try await storage.purgeRevokedTokens(expiredBefore: date)
        let loaded = entries.withLock { entries in
            entries = entries?.filter { $0.value >= date }
            return entries != nil
        }
        if !loaded { try await load(now: date) }
        return purged
    }

    public func revokedTokens(expiringAfter date: Date, limit: Int) async throws -> [(jti: String, expiresAt: Date)] {
        try await storage.revokedTokens(expiringAfter: date, limit: limit)
    }
}
