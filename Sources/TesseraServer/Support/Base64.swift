/// Padded base64 (RFC 4648 §4), as HTTP Basic credentials carry it (RFC 7617).
///
/// A multiple of four characters, one or two `=` only at the end, nothing outside
/// the alphabet; unused trailing bits are ignored. Stricter than Foundation's
/// `Data(base64Encoded:)` (which takes `====` or `QU=D`), never different on what
/// both take, and without going through `Data`: it runs on every token request.
enum Base64 {
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        return table
    }()

    /// The decoded bytes, or `nil` for anything that is not padded base64.
    static func decode(_ input: some Collection<UInt8>) -> [UInt8]? {
        guard input.count % 4 == 0 else { return nil }
        // At most two "=", at the end; a third (or one anywhere else) is refused below.
        let padding = input.reversed().prefix(2).prefix { $0 == UInt8(ascii: "=") }.count
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in input.dropLast(padding) {
            let value = decodeTable[Int(byte)]
            if value == 0xFF { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        return output
    }
}
