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

extension UUID {
    /// The lower-case text form every API answers and every store keeps.
    public var lowercased: String { uuidString.lowercased() }
}
