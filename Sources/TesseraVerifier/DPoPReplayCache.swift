import Crypto
import Synchronization

/// The DPoP proofs a verifier has accepted, remembered by key thumbprint and `jti`
/// until they would be too old to pass anyway, so that none passes twice (RFC 9449
/// §11.1, docs/binding.md). One process's memory: replicas of a service do not share
/// it (a proof replayed to another replica within its window is not caught; RFC 9449
/// §11.1 lets a server use nonces for that, which this verifier does not ask for).
///
/// Bounded in size and in time. Entries are kept by the second their proof stops
/// being acceptable (`iat` + the maximum age), in buckets dropped once that second
/// has passed, so forgetting costs nothing per request. **When the cache is full** of
/// proofs still inside their window, a new proof is refused
/// (``Outcome/full``): forgetting one instead would let that proof be replayed. The
/// capacity sets how many proofs per window a verifier takes; beyond it, requests
/// fail until the oldest proofs age out.
///
/// Safe to use from any number of tasks at once: one lock guards it, held for a
/// dictionary lookup and insert (and, at most once a second, dropping old buckets).
public final class DPoPReplayCache: Sendable {
    /// What ``remember(thumbprint:jti:until:now:)`` found.
    public enum Outcome: Sendable, Hashable {
        /// Not seen before: now remembered.
        case new
        /// Seen before, within its window.
        case replayed
        /// Not seen before, and no room to remember it: refuse the proof.
        case full
    }

    private struct State {
        /// Each remembered proof, by digest, with the last second it is kept.
        var seen: [SHA256Digest: Int64] = [:]
        /// The digests by the last second they are kept.
        var buckets: [Int64: [SHA256Digest]] = [:]
        /// The last second old buckets were dropped.
        var purgedAt: Int64 = .min
    }

    /// Most proofs held at once.
    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Proofs remembered now (including any past their window not yet dropped).
    public var count: Int { state.withLock { $0.seen.count } }

    /// Remembers the proof with `jti` signed by the key with `thumbprint`, until the
    /// second `until` (seconds since 1970) has passed; `now` is the current second.
    public func remember(thumbprint: String, jti: String, until: Int64, now: Int64) -> Outcome {
        // A fixed-size key whatever the jti's length; the thumbprint's length first
        // keeps ("a", "bc") and ("ab", "c") apart.
        var hash = SHA256()
        withUnsafeBytes(of: UInt64(thumbprint.utf8.count).bigEndian) { hash.update(bufferPointer: $0) }
        hash.update(data: Array(thumbprint.utf8))
        hash.update(data: Array(jti.utf8))
        let digest = hash.finalize()
        return state.withLock { state in
            if now > state.purgedAt {
                Self.purge(&state, now: now)
            }
            if let kept = state.seen[digest], kept >= now { return .replayed }
            guard state.seen.count < capacity else { return .full }
            state.seen[digest] = until
            state.buckets[until, default: []].append(digest)
            return .new
        }
    }

    /// Drops every bucket whose last second is before `now`. There are at most as
    /// many buckets as seconds in the proof window (a proof's `until` lies within
    /// the window's width of now), so this is short.
    private static func purge(_ state: inout State, now: Int64) {
        state.purgedAt = now
        for until in state.buckets.keys where until < now {
            for digest in state.buckets.removeValue(forKey: until) ?? [] where state.seen[digest] == until {
                state.seen[digest] = nil
            }
        }
    }
}
