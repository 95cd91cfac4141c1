import Foundation
import Logging
import Synchronization

/// Collects `last_used_at` for accounts and secrets in memory and writes them in
/// batches, so issuing a token costs no database write.
public final class UsageRecorder: Sendable {
    private struct Pending {
        var accounts: [UUID: Date] = [:]
        var secrets: [UUID: Date] = [:]
    }

    private let storage: any ServiceAccountStorage
    private let pending: Mutex<Pending>

    public init(storage: any ServiceAccountStorage) {
        self.storage = storage
        self.pending = Mutex(Pending())
    }

    /// Notes a successful authentication.
    public func record(accountID: UUID, secretID: UUID?, at date: Date) {
        pending.withLock { pending in
            pending.accounts[accountID] = date
            if let secretID { pending.secrets[secretID] = date }
        }
    }

    /// The latest use of an account or a secret not written yet, so an answer read
    /// between two batches shows it (`nil` when nothing is pending for it).
    public func pendingUse(ofAccount id: UUID) -> Date? { pending.withLock { $0.accounts[id] } }
    public func pendingUse(ofSecret id: UUID) -> Date? { pending.withLock { $0.secrets[id] } }

    /// Writes what has been collected. On failure the entries are kept for the next try.
    public func flush() async throws {
        let batch = pending.withLock { pending in
            let batch = pending
            pending = Pending()
            return batch
        }
        guard !batch.accounts.isEmpty || !batch.secrets.isEmpty else { return }
        do {
            try await storage.recordUsage(accounts: batch.accounts, secrets: batch.secrets)
        } catch {
            pending.withLock { pending in
                pending.accounts.merge(batch.accounts) { newer, _ in newer }
                pending.secrets.merge(batch.secrets) { newer, _ in newer }
            }
            throw error
        }
    }

    /// Flushes every `interval` until cancelled, then once more. The last flush
    /// runs in a task of its own, so the cancellation that ends the loop does not
    /// abort the write that saves what is pending.
    public func run(interval: Duration, logger: Logger) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { break }
            do { try await flush() } catch { logger.warning("could not record last use", metadata: ["error": "\(error)"]) }
        }
        await Task {
            do { try await flush() } catch { logger.warning("could not record last use at shutdown", metadata: ["error": "\(error)"]) }
        }.value
    }
}
