import Foundation
import Logging
import ServiceLifecycle
import TesseraCore

/// Long-lived work beside the HTTP server: batched `last_used_at` writes every
/// few seconds, key-ring maintenance every 10 s (so a key change made by another
/// process is picked up, docs/ARCHITECTURE.md §3), a purge of expired revocations and used
/// client-assertion ids every minute, and, on a store shared by replicas, the
/// change feed that keeps the caches coherent within a second.
struct BackgroundWork: Service {
    let tessera: Tessera
    let logger: Logger
    /// Promotion, scheduled rotation and retirement of signing keys; `nil` only reloads.
    var keyPolicy: KeyPolicy?
    var usageInterval: Duration = .seconds(5)
    var keyReloadInterval: Duration = .seconds(10)

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                await tessera.usage.run(interval: usageInterval, logger: logger)
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: keyReloadInterval)
                    if Task.isCancelled { break }
                    do {
                        if let policy = keyPolicy {
                            let changes = try await tessera.keyRing.maintain(policy, now: tessera.dependencies.now())
                            for change in changes { logger.notice("signing key \(change.action)", metadata: ["kid": "\(change.kid)"]) }
                            await tessera.audit(changes, actor: "system")
                        } else {
                            try await tessera.keyRing.load(generating: nil, now: tessera.dependencies.now())
                        }
                    } catch {
                        logger.warning("could not maintain signing keys", metadata: ["error": "\(error)"])
                    }
                }
            }
            group.addTask {
                // Revoked tokens and used client assertions past their expiry (and any leeway) need no entry.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(60))
                    if Task.isCancelled { break }
                    do {
                        let horizon = tessera.dependencies.now().addingTimeInterval(-120)
                        try await tessera.revocations.purgeRevokedTokens(expiredBefore: horizon)
                        try await tessera.storage.purgeAssertionIDs(expiredBefore: horizon)
                    } catch {
                        logger.warning("could not purge revoked tokens", metadata: ["error": "\(error)"])
                    }
                }
            }
            if let feed = tessera.storage as? any ChangeFeed {
                group.addTask { await follow(feed) }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Applies the changes other replicas commit (PostgreSQL `LISTEN/NOTIFY`) to
    /// the caches at once; while the feed is down the caches' TTL bounds staleness,
    /// and it is retried every second.
    private func follow(_ feed: any ChangeFeed) async {
        while !Task.isCancelled {
            do {
                try await feed.followChanges { change in await apply(change) }
            } catch is CancellationError {
                break
            } catch {
                logger.warning("change feed lost; caches fall back to their TTL until it is back", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func apply(_ change: StoreChange) async {
        switch change {
        case .client(let clientID):
            tessera.clients.invalidate(clientID: clientID)
        case .everything:
            tessera.clients.invalidateAll()
            await reloadKeys()
        case .signingKeys:
            await reloadKeys()
        }
    }

    private func reloadKeys() async {
        do {
            try await tessera.keyRing.load(
                generating: nil, now: tessera.dependencies.now(), retirementGrace: keyPolicy?.retirementGrace ?? KeyPolicy.defaultRetirementGrace
            )
        } catch {
            logger.warning("could not reload signing keys", metadata: ["error": "\(error)"])
        }
    }
}
