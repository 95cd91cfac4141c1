/// A strict JSON (RFC 8259) reader for the small documents inside a JWS: the
/// header and the claims, read on every cold verification, where Foundation's
/// `JSONDecoder` cost about as much as the ECDSA check itself.
///
/// It accepts exactly RFC 8259 (one value, UTF-8, no trailing data, no control
/// characters in strings, surrogate escapes paired) and, beyond it, refuses a
/// member name given twice (RFC 7515 §4 and RFC 7519 §4 allow a parser to refuse
/// duplicates rather than pick one) and nesting deeper than 32. Numbers keep
/// their text; ``JSONValue/int64`` reads integers from it.
package enum JSONValue: Sendable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    /// The number's text as written, e.g. `1800000000` or `-1.5e3`.
    case number(String)
    case bool(Bool)
    case null

    package struct Malformed: Error, Sendable, Equatable {
        package let offset: Int
    }

    /// Parses `bytes` as one JSON value.
    package static func parse(_ bytes: [UInt8]) throws(Malformed) -> JSONValue {
        var reader = Reader(bytes: bytes)
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw Malformed(offset: reader.index) }
        return value
    }

    package var string: String? {
        if case .string(let value) = self { value } else { nil }
    }

    package var object: [String: JSONValue]? {
        if case .object(let value) = self { value } else { nil }
    }

    /// The value of an integer literal (no fraction or exponent) that fits 64 bits.
    package var int64: Int64? {
        if case .number(let text) = self, !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { Int64(text) } else { nil }
    }

    /// An array whose members are all strings.
    package var strings: [String]? {
        guard case .array(let values) = self else { return nil }
        var strings: [String] = []
        strings.reserveCapacity(values.count)
        for value in values {
            guard let string = value.string else { return nil }
            strings.append(string)
        }
        return strings
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0
        static let maximumDepth = 32

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        func fail() -> Malformed { Malformed(offset: index) }

        mutating func expect(_ literal: StaticString) throws(Malformed) {
            let count = literal.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw fail() }
            for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] { throw fail() }
            index += count
        }

        mutating func value(depth: Int) throws(Malformed) -> JSONValue {
            skipWhitespace()
            guard index < bytes.count else { throw fail() }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                guard depth < Self.maximumDepth else { throw fail() }
                return .object(try object(depth: depth + 1))
            case UInt8(ascii: "["):
                guard depth < Self.maximumDepth else { throw fail() }
                return .array(try array(depth: depth + 1))
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            default: return .number(try number())
            }
        }

        mutating func object(depth: Int) throws(Malformed) -> [String: JSONValue] {
            index += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return members
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail() }
                let name = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail() }
                index += 1
                let value = try value(depth: depth)
                guard members.updateValue(value, forKey: name) == nil else { throw fail() }
                skipWhitespace()
                guard index < bytes.count else { throw fail() }
                switch bytes[index] {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return members
                default: throw fail()
                }
            }
        }

        mutating func array(depth: Int) throws(Malformed) -> [JSONValue] {
            index += 1
            var values: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return values
            }
            while true {
                values.append(try value(depth: depth))
                skipWhitespace()
                guard index < bytes.count else { throw fail() }
                switch bytes[index] {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return values
                default: throw fail()
                }
            }
        }

        /// A string from its opening quote; escapes decoded, UTF-8 validated.
        mutating func string() throws(Malformed) -> String {
            index += 1
            let start = index
            // The common case: no escape, so the bytes are the string.
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 {
                index += 1
            }
            guard index < bytes.count, bytes[index] >= 0x20 else { throw fail() }
            var decoded = Array(bytes[start..<index])
            while bytes[index] != UInt8(ascii: "\"") {
                let byte = bytes[index]
                guard byte >= 0x20 else { throw fail() }
                index += 1
                guard byte == UInt8(ascii: "\\") else {
                    decoded.append(byte)
                    guard index < bytes.count else { throw fail() }
                    continue
                }
                guard index < bytes.count else { throw fail() }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        try expect("\\u")
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail() }
                        scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw fail()
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw fail() }
                    decoded.append(contentsOf: String(unicode).utf8)
                default: throw fail()
                }
                guard index < bytes.count else { throw fail() }
            }
            index += 1
            guard let string = String(validating: decoded, as: UTF8.self) else { throw Malformed(offset: start) }
            return string
        }

        mutating func hex4() throws(Malformed) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail() }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32 =
                    switch byte {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
                    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
                    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
                    default: throw fail()
                    }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() throws(Malformed) -> String {
            let start = index
            func isDigit(_ at: Int) -> Bool { at < bytes.count && bytes[at] >= UInt8(ascii: "0") && bytes[at] <= UInt8(ascii: "9") }
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard isDigit(index) else { throw fail() }
            if bytes[index] == UInt8(ascii: "0") { index += 1 } else { while isDigit(index) { index += 1 } }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard isDigit(index) else { throw fail() }
                while isDigit(index) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard isDigit(index) else { throw fail() }
                while isDigit(index) { index += 1 }
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
    }
}
