import Foundation

/// Unpadded base64url (RFC 4648 §5), as JOSE uses it (RFC 7515 §2).
///
/// Decoding is strict: padding, whitespace and characters outside the URL-safe
/// alphabet are rejected, as are encodings whose unused trailing bits are not zero,
/// so one byte string has exactly one accepted encoding.
package enum Base64URL {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    private static let decodeTable = decodeTable(for: String(decoding: alphabet, as: UTF8.self))

    /// Encodes bytes without padding.
    package static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        var output = [UInt8]()
        output.reserveCapacity((input.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= input.count {
            let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(alphabet[Int(value >> 18 & 0x3F)])
            output.append(alphabet[Int(value >> 12 & 0x3F)])
            output.append(alphabet[Int(value >> 6 & 0x3F)])
            output.append(alphabet[Int(value & 0x3F)])
            index += 3
        }
        switch input.count - index {
        case 1:
            let value = UInt32(input[index]) << 16
            output.append(alphabet[Int(value >> 18 & 0x3F)])
            output.append(alphabet[Int(value >> 12 & 0x3F)])
        case 2:
            let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            output.append(alphabet[Int(value >> 18 & 0x3F)])
            output.append(alphabet[Int(value >> 12 & 0x3F)])
            output.append(alphabet[Int(value >> 6 & 0x3F)])
        default:
            break
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Encodes the UTF-8 bytes of a string.
    package static func encode(_ string: String) -> String {
        encode(Array(string.utf8))
    }

    /// Decodes unpadded base64url; returns `nil` for anything that is not exactly that.
    package static func decode<Input: StringProtocol>(_ string: Input) -> [UInt8]? {
        decode(bytes: Array(string.utf8))
    }

    /// Decodes unpadded base64url given as ASCII bytes.
    package static func decode<Bytes: Collection>(bytes input: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        withContiguousBytes(input) { input in
            if input.count % 4 == 1 { return nil }
            guard let (output, leftover) = decodeGroups(input, table: decodeTable) else { return nil }
            // Leftover bits must be zero (RFC 4648 §3.5 canonical encoding).
            return leftover == 0 ? output : nil
        }
    }

    /// `body` on the bytes in one contiguous buffer, so that the loops run on a
    /// concrete type whatever collection the caller has (a generic loop called
    /// from another module runs unspecialized, several times slower).
    static func withContiguousBytes<Result>(
        _ input: some Collection<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result {
        if let result = input.withContiguousStorageIfAvailable(body) { return result }
        return Array(input).withUnsafeBufferPointer(body)
    }

    /// Decodes characters of a 64-letter alphabet, six bits each; `nil` when one is
    /// outside it. Also returns the unused trailing bits.
    static func decodeGroups(_ input: UnsafeBufferPointer<UInt8>, table: [UInt8]) -> (bytes: [UInt8], leftover: UInt32)? {
        var output = [UInt8]()
        output.reserveCapacity(input.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in input {
            let value = table[Int(byte)]
            if value == 0xFF { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        return (output, accumulator)
    }

    static func decodeTable(for alphabet: String) -> [UInt8] {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.utf8.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }
}

/// Padded base64 (RFC 4648 §4), as HTTP Basic credentials carry it (RFC 7617).
///
/// A multiple of four characters, one or two `=` only at the end, nothing outside
/// the alphabet; unused trailing bits are ignored. Stricter than Foundation's
/// `Data(base64Encoded:)` (which takes `====` or `QU=D`), never different on what
/// both take, and without going through `Data`: it runs on every token request.
package enum Base64 {
    private static let decodeTable = Base64URL.decodeTable(for: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    /// The decoded bytes, or `nil` for anything that is not padded base64.
    package static func decode(_ input: some Collection<UInt8>) -> [UInt8]? {
        Base64URL.withContiguousBytes(input) { input in
            guard input.count % 4 == 0 else { return nil }
            // At most two "=", at the end; a third (or one anywhere else) is outside the alphabet.
            var end = input.count
            while end > 0, input.count - end < 2, input[end - 1] == UInt8(ascii: "=") { end -= 1 }
            return Base64URL.decodeGroups(UnsafeBufferPointer(rebasing: input[..<end]), table: decodeTable)?.bytes
        }
    }
}
