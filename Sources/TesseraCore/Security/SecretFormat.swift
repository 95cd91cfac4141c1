import Crypto
import Foundation

/// The format of client secrets: a recognisable prefix, 256 random bits and a
/// checksum, so leak scanners find them and typos are caught before any lookup.
///
/// `tss_` + 43 base62 characters (the 32 random bytes as a big-endian number) +
/// 6 base62 characters (CRC-32 of the first 47 characters), 53 characters in all:
///
///     tss_[0-9A-Za-z]{49}
public enum SecretFormat {
    public static let prefix = "tss_"
    public static let length = 53
    /// A regular expression matching exactly one secret, for leak scanners.
    public static let pattern = #"tss_[0-9A-Za-z]{49}"#

    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// API tokens (``ClientSecret/Kind/apiToken``): the same shape under their own
    /// prefix, `tsa_`, so a scanner and the server tell one from a client secret
    /// without a lookup.
    public enum APIToken {
        public static let prefix = "tsa_"
        /// A regular expression matching exactly one API token, for leak scanners.
        public static let pattern = #"tsa_[0-9A-Za-z]{49}"#

        /// A new API token from 32 random bytes.
        public static func make(randomBytes: [UInt8]) -> String { SecretFormat.make(prefix: prefix, randomBytes: randomBytes) }

        /// True when `token` has an API token's shape and a correct checksum.
        public static func isWellFormed(_ token: some StringProtocol) -> Bool { SecretFormat.isWellFormed(token, prefix: prefix) }
    }

    /// A new secret from 32 random bytes.
    public static func make(randomBytes: [UInt8]) -> String {
        make(prefix: prefix, randomBytes: randomBytes)
    }

    static func make(prefix: String, randomBytes: [UInt8]) -> String {
        precondition(randomBytes.count == 32, "a credential carries 256 random bits")
        precondition(prefix.utf8.count == 4, "every credential prefix has four characters")
        let body = prefix + base62(randomBytes, width: 43)
        return body + checksum(of: body)
    }

    /// True when `secret` has the shape and a correct checksum. Cheap; says nothing
    /// about whether the secret belongs to anyone.
    public static func isWellFormed(_ secret: some StringProtocol) -> Bool {
        isWellFormed(secret, prefix: prefix)
    }

    static func isWellFormed(_ secret: some StringProtocol, prefix: String) -> Bool {
        // Read in place, the checksum compared as a number: this runs on every
        // token request. (Each value has one 6-digit base62 form, so comparing
        // numbers is comparing the characters.)
        let bytes = secret.utf8
        guard bytes.count == length, bytes.starts(with: prefix.utf8) else { return false }
        var crc = CRC32()
        crc.update(prefix.utf8)
        var checksum: UInt64 = 0
        for (offset, byte) in bytes.dropFirst(prefix.utf8.count).enumerated() {
            guard let digit = base62Value(byte) else { return false }
            if offset < length - prefix.utf8.count - 6 {
                crc.update(CollectionOfOne(byte))
            } else {
                checksum = checksum * 62 + UInt64(digit)
            }
        }
        return checksum == UInt64(crc.value)
    }

    private static func base62Value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 36
        default: nil
        }
    }

    /// SHA-256 of the secret, the only form that is stored.
    public static func digest(_ secret: some StringProtocol) -> [UInt8] {
        Array(SHA256.hash(data: Array(secret.utf8)))
    }

    /// A non-secret reminder: the prefix, an ellipsis and the last four characters.
    public static func hint(_ secret: String) -> String {
        String(secret.prefix(4)) + "…" + String(secret.suffix(4))
    }

    static func checksum(of body: String) -> String {
        var crc = CRC32()
        crc.update(Array(body.utf8))
        let value = crc.value
        return base62([UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)], width: 6)
    }

    /// Big-endian bytes as base62, left-padded with zeros to `width`.
    static func base62(_ bytes: [UInt8], width: Int) -> String {
        var number = bytes
        var digits: [UInt8] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for index in number.indices {
                let value = remainder << 8 | Int(number[index])
                number[index] = UInt8(value / 62)
                remainder = value % 62
            }
            digits.append(alphabet[remainder])
        }
        while digits.count < width { digits.append(alphabet[0]) }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }
}

/// CRC-32 (IEEE 802.3, the zlib polynomial).
struct CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    private(set) var state: UInt32 = 0xFFFF_FFFF

    mutating func update(_ bytes: some Sequence<UInt8>) {
        for byte in bytes { state = Self.table[Int((state ^ UInt32(byte)) & 0xFF)] ^ (state >> 8) }
    }

    var value: UInt32 { state ^ 0xFFFF_FFFF }
}
