import Foundation

/// Clock and randomness, injected so tests control them (docs/ARCHITECTURE.md §1).
public struct Dependencies: Sendable {
    public var now: @Sendable () -> Date
    public var randomBytes: @Sendable (Int) -> [UInt8]

    public init(now: @escaping @Sendable () -> Date, randomBytes: @escaping @Sendable (Int) -> [UInt8]) {
        self.now = now
        self.randomBytes = randomBytes
    }

    /// The system clock and the kernel's cryptographically secure generator,
    /// read a page at a time (``KernelRandomPool``): every token needs random
    /// bytes for its `jti`.
    public static let live = Dependencies(now: { Date() }, randomBytes: { count in livePool.bytes(count) })

    private static let livePool = KernelRandomPool()

    /// A new random UUID (version 4) from ``randomBytes``.
    public func uuid() -> UUID {
        var bytes = randomBytes(16)
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }

    /// A new client id: `tsc_` and 26 Crockford base32 characters of 128 random bits.
    public func clientID() -> String {
        "tsc_" + Crockford32.encode(randomBytes(16)).lowercased()
    }
}
