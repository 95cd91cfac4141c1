import Foundation
import Synchronization

/// What verifying a token found (its claims, say), remembered by the token's exact
/// text, so a token presented again costs a lookup instead of a signature check
/// and a JSON parse. Bounded in size; each entry lives until the token's `exp` or
/// `lifetime`, whichever comes first, so a remembered result never outlives the
/// token. When full it starts afresh: cheaper than tracking use, and the hits
/// that matter come from the few tokens seen over and over.
///
/// Only the signature and the parse are remembered: callers still check the time
/// claims, and whatever else can change (revocation, the account), on every use.
public final class VerifiedTokenCache<Value: Sendable>: Sendable {
    private struct Entry {
        let value: Value
        let until: TimeInterval
    }

    private let capacity: Int
    private let lifetime: TimeInterval
    private let entries = Mutex<[String: Entry]>([:])

    /// - Parameters:
    ///   - capacity: most entries held; 0 remembers nothing.
    ///   - lifetime: longest an entry is kept, in seconds.
    public init(capacity: Int, lifetime: TimeInterval) {
        self.capacity = capacity
        self.lifetime = lifetime
    }

    public subscript(token: String, now: Date) -> Value? {
        guard capacity > 0 else { return nil }
        let current = now.timeIntervalSince1970
        return entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            guard entry.until > current else {
                entries[token] = nil
                return nil
            }
            return entry.value
        }
    }

    /// Remembers `value` for `token`, which expires at `expiresAt` (seconds since 1970).
    public func insert(_ value: Value, for token: String, expiresAt: Int64, now: Date) {
        guard capacity > 0 else { return }
        let until = min(TimeInterval(expiresAt), now.timeIntervalSince1970 + lifetime)
        guard until > now.timeIntervalSince1970 else { return }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = Entry(value: value, until: until)
        }
    }
}
