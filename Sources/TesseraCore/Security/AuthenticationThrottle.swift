import Foundation
import Synchronization

/// Slows down guessing at client authentication: after repeated failures from one
/// source address, or for one client id from one source address, further attempts
/// are refused without being checked, for an exponentially growing time.
///
/// A client is never locked out by failures coming from someone else's address, so
/// an attacker cannot lock out a legitimate client; and a refused attempt costs a
/// dictionary lookup, so a locked-out attacker cannot slow anyone else down.
public final class AuthenticationThrottle: Sendable {
    public struct Policy: Sendable {
        /// Failures of one client id from one address before it is locked.
        public var clientFailures = 5
        /// Failures from one address, whatever the client id, before it is locked.
        public var addressFailures = 20
        /// The first lock; each further failure doubles it.
        public var baseDelay: TimeInterval = 1
        public var maximumDelay: TimeInterval = 900
        /// Failures older than this are forgotten.
        public var window: TimeInterval = 900
        /// Entries kept at most; beyond it the oldest are dropped.
        public var capacity = 100_000

        public init() {}
    }

    private struct Entry {
        var failures: Int
        var lastFailure: Date
        var lockedUntil: Date
    }

    public let policy: Policy
    private let entries: Mutex<[String: Entry]>

    public init(policy: Policy = Policy()) {
        self.policy = policy
        self.entries = Mutex([:])
    }

    private static func clientKey(_ clientID: String, _ address: String) -> String { "c\u{0}\(clientID)\u{0}\(address)" }
    private static func addressKey(_ address: String) -> String { "a\u{0}\(address)" }

    /// Seconds to wait when attempts for this client id from this address are locked, else `nil`.
    public func retryAfter(clientID: String, address: String, now: Date) -> TimeInterval? {
        entries.withLock { entries in
            let locks = [entries[Self.addressKey(address)], entries[Self.clientKey(clientID, address)]].compactMap { $0?.lockedUntil }
            guard let until = locks.max(), until > now else { return nil }
            return until.timeIntervalSince(now)
        }
    }

    /// Counts a failed authentication.
    public func recordFailure(clientID: String, address: String, now: Date) {
        entries.withLock { entries in
            if entries.count >= policy.capacity {
                let horizon = now.addingTimeInterval(-policy.window)
                entries = entries.filter { $0.value.lastFailure > horizon || $0.value.lockedUntil > now }
                if entries.count >= policy.capacity { entries.removeAll(keepingCapacity: true) }
            }
            for (key, threshold) in [(Self.clientKey(clientID, address), policy.clientFailures), (Self.addressKey(address), policy.addressFailures)] {
                var entry = entries[key] ?? Entry(failures: 0, lastFailure: now, lockedUntil: .distantPast)
                if now.timeIntervalSince(entry.lastFailure) > policy.window { entry.failures = 0 }
                entry.failures += 1
                entry.lastFailure = now
                if entry.failures >= threshold {
                    let exponent = min(entry.failures - threshold, 30)
                    let delay = min(policy.maximumDelay, policy.baseDelay * pow(2, Double(exponent)))
                    entry.lockedUntil = now.addingTimeInterval(delay)
                }
                entries[key] = entry
            }
        }
    }

    /// A success clears the client's count from that address (not the address's own count).
    public func recordSuccess(clientID: String, address: String) {
        _ = entries.withLock { $0.removeValue(forKey: Self.clientKey(clientID, address)) }
    }
}
