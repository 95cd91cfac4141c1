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
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The lower-case text form every API answers and every store keeps:
    /// `uuidString.lowercased()`, written here because Foundation formats a UUID
    /// through `sprintf` and a page of fifty accounts formats a hundred.
    public var lowercased: String {
        withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { text in
                var at = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[at] = UInt8(ascii: "-")
                        at += 1
                    }
                    text[at] = Self.hexDigits[Int(byte >> 4)]
                    text[at + 1] = Self.hexDigits[Int(byte & 0x0F)]
                    at += 2
                }
                return 36
            }
        }
    }

    /// `UUID(uuidString:)`, read here when `text` is the 36-character form with
    /// hyphens in place and hex digits in either case (every stored id), since
    /// Foundation reads it through `sscanf`; anything else goes to Foundation, so
    /// what is accepted and what it means are Foundation's.
    public init?(text: String) {
        if let parsed = text.utf8.withContiguousStorageIfAvailable({ Self.parse($0) }), let parsed {
            self.init(uuid: parsed)
        } else {
            self.init(uuidString: text)
        }
    }

    /// ``init(text:)`` for text given as UTF-8 bytes (a column SQLite hands out).
    public init?(utf8: UnsafeBufferPointer<UInt8>) {
        if let parsed = Self.parse(utf8) {
            self.init(uuid: parsed)
        } else {
            self.init(uuidString: String(decoding: utf8, as: UTF8.self))
        }
    }

    /// The 36-character form with hyphens in place and hex digits in either case,
    /// or `nil` for anything else.
    private static func parse(_ utf8: UnsafeBufferPointer<UInt8>) -> uuid_t? {
        guard utf8.count == 36 else { return nil }
        var parsed: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let read = withUnsafeMutableBytes(of: &parsed) { bytes in
            var at = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    guard utf8[at] == UInt8(ascii: "-") else { return false }
                    at += 1
                }
                guard let high = HexDigit.value(utf8[at]), let low = HexDigit.value(utf8[at + 1]) else { return false }
                bytes[index] = high << 4 | low
                at += 2
            }
            return true
        }
        return read ? parsed : nil
    }
}
