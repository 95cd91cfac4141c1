import Foundation

/// Crockford base32 (digits and upper-case letters without I, L, O, U), used for
/// client ids and the 26-character account id form.
public enum Crockford32 {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// Encodes 16 bytes (128 bits) as 26 characters; the first character carries
    /// only 3 bits, so it is always 0–7, as in ULIDs.
    public static func encode(_ bytes: [UInt8]) -> String {
        precondition(bytes.count == 16, "Crockford32.encode takes 16 bytes")
        var value = (UInt64(0), UInt64(0))
        for byte in bytes[0..<8] { value.0 = value.0 << 8 | UInt64(byte) }
        for byte in bytes[8..<16] { value.1 = value.1 << 8 | UInt64(byte) }
        var output = [UInt8](repeating: 0, count: 26)
        var high = value.0, low = value.1
        for index in stride(from: 25, through: 0, by: -1) {
            output[index] = alphabet[Int(low & 0x1F)]
            low = low >> 5 | (high & 0x1F) << 59
            high >>= 5
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The 26-character form of a UUID.
    public static func encode(_ uuid: UUID) -> String {
        encode(withUnsafeBytes(of: uuid.uuid) { Array($0) })
    }
}

/// Clock and randomness, injected so tests control them (docs/design.md §1).
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
        return UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        ))
    }

    /// A new client id: `tsc_` and 26 Crockford base32 characters of 128 random bits.
    public func clientID() -> String {
        "tsc_" + Crockford32.encode(randomBytes(16)).lowercased()
    }
}
