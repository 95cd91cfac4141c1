import Dispatch
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization
import TesseraCore

/// Gives every response an `X-Request-ID`: the caller's when it is safe to echo
/// (1–128 characters of `A-Z a-z 0-9 . _ -`), else a new one.
///
/// New ids are 128 bits in 26 Crockford base32 characters: 64 random bits drawn
/// once per server, then a counter that starts at a random value. They are unique
/// and unguessable enough to correlate logs, without drawing random bytes for
/// every request (that was 1–2 % of a request); they guard nothing.
struct RequestIDs: Sendable {
    private let prefix: [UInt8]
    private let counter: Counter

    private final class Counter: Sendable {
        let value: Atomic<UInt64>
        init(_ start: UInt64) { value = Atomic(start) }
    }

    init(dependencies: Dependencies) {
        let random = dependencies.randomBytes(16)
        prefix = Array(random[0..<8])
        counter = Counter(random[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
    }

    /// The caller's id when it is safe to echo, else a new one.
    func id(for request: Request) -> String { id(for: request.headers) }

    /// The id for a request with these header fields.
    func id(for headers: HTTPFields) -> String {
        if let given = headers.value(of: .requestID), Self.isSafe(given) { return given }
        return newID()
    }

    /// The next new id.
    func newID() -> String {
        let count = counter.value.wrappingAdd(1, ordering: .relaxed).oldValue
        var bytes = prefix
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: count >> UInt64(shift))) }
        return Crockford32.encode(bytes).lowercased()
    }

    static func isSafe(_ value: String) -> Bool {
        let bytes = value.utf8
        return (1...128).contains(bytes.count)
            && bytes.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }
}
