import Foundation
import Synchronization

/// The denylist of revoked tokens held in memory, in front of a store that only
/// this process writes (the embedded SQLite, docs/ARCHITECTURE.md §1). Every revocation passes
/// through here, so the copy is exact and introspection answers without a read;
/// the store stays the record, and a restart loads the copy from it.
///
/// Not for a shared store (PostgreSQL): there another replica's revocation must
/// count at once, so each check reads the store. Beyond `capacity` unexpired
/// entries the copy is dropped and checks read the store, until a purge brings
/// the count back under it.
public final class RevocationList: RevocationStorage {
    private struct State {
        /// `jti` → when its token expires; `nil` while not loaded, or over capacity.
        var entries: [String: Date]?
        /// Revocations made while a load reads the store, which that read may
        /// have missed; the load adds them. `nil` when no load runs.
        var duringLoad: [String: Date]?
    }

    private let storage: any RevocationStorage
    private let capacity: Int
    private let state = Mutex(State())

    public init(storage: any RevocationStorage, capacity: Int = 200_000) {
        self.storage = storage
        self.capacity = capacity
    }

    /// Whether checks are answered from memory.
    public var isLoaded: Bool { state.withLock { $0.entries != nil } }

    /// Reads every unexpired entry from the store; over capacity, leaves checks to
    /// the store. Loads do not overlap (start, then the purge loop).
    public func load(now: Date) async throws {
        state.withLock { $0.duringLoad = [:] }
        let stored: [(jti: String, expiresAt: Date)]
        do {
            stored = try await storage.revokedTokens(expiringAfter: now, limit: capacity + 1)
        } catch {
            state.withLock { $0.duringLoad = nil }
            throw error
        }
        state.withLock { state in
            var loaded = Dictionary(stored.map { ($0.jti, $0.expiresAt) }) { first, _ in first }
            loaded.merge(state.duringLoad ?? [:]) { _, revoked in revoked }
            state.entries = loaded.count > capacity ? nil : loaded
            state.duringLoad = nil
        }
    }

    public func revokeToken(jti: String, tenantID: UUID, expiresAt: Date, revokedAt: Date) async throws {
        // The store first: a revocation it refused is not remembered either.
        try await storage.revokeToken(jti: jti, tenantID: tenantID, expiresAt: expiresAt, revokedAt: revokedAt)
        state.withLock { state in
            state.duringLoad?[jti] = expiresAt
            state.entries?[jti] = expiresAt
            if let count = state.entries?.count, count > capacity { state.entries = nil }
        }
    }

    public func isTokenRevoked(jti: String) async throws -> Bool {
        switch state.withLock({ $0.entries.map { $0[jti] != nil } }) {
        case let answer?: answer
        case nil: try await storage.isTokenRevoked(jti: jti)
        }
    }

    @discardableResult
    public func purgeRevokedTokens(expiredBefore date: Date) async throws -> Int {
        let purged = try await storage.purgeRevokedTokens(expiredBefore: date)
        let loaded = state.withLock { state in
            state.entries = state.entries?.filter { $0.value >= date }
            return state.entries != nil
        }
        if !loaded { try await load(now: date) }
        return purged
    }

    public func revokedTokens(expiringAfter date: Date, limit: Int) async throws -> [(jti: String, expiresAt: Date)] {
        try await storage.revokedTokens(expiringAfter: date, limit: limit)
    }
}
