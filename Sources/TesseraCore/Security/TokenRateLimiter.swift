import Foundation
import Synchronization

/// An optional limit on how many tokens one account obtains per second: a token
/// bucket per account that holds `burst` tokens and refills at `rate` per second.
public final class TokenRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Date
    }

    public let rate: Double
    public let burst: Double
    private let buckets: Mutex<[UUID: Bucket]>
    private let capacity: Int

    /// - Parameters:
    ///   - rate: tokens per second per account; must be positive.
    ///   - burst: how many may be taken at once; at least 1.
    public init(rate: Double, burst: Double? = nil, capacity: Int = 200_000) {
        precondition(rate > 0, "a rate limit needs a positive rate")
        self.rate = rate
        self.burst = max(1, burst ?? rate)
        self.capacity = capacity
        self.buckets = Mutex([:])
    }

    /// Takes one token for `account`; returns the seconds to wait when there is none.
    public func take(_ account: UUID, now: Date) -> TimeInterval? {
        buckets.withLock { buckets in
            if buckets.count >= capacity, buckets[account] == nil {
                // Full buckets carry no information: drop them first.
                buckets = buckets.filter { now.timeIntervalSince($0.value.updated) * rate + $0.value.tokens < burst }
                if buckets.count >= capacity { buckets.removeAll(keepingCapacity: true) }
            }
            var bucket = buckets[account] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + max(0, now.timeIntervalSince(bucket.updated)) * rate)
            bucket.updated = now
            defer { buckets[account] = bucket }
            guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / rate }
            bucket.tokens -= 1
            return nil
        }
    }
}
