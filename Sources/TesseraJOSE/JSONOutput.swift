/// A small JSON writer for the few documents on the token path (the claims of
/// every access token, the token response), where Foundation's `JSONEncoder`
/// cost about a tenth of each request. Output is what `JSONEncoder` with
/// `.withoutEscapingSlashes` writes: strings escaped per RFC 8259 §7, UTF-8
/// passed through, members in the order written. Member names are `StaticString`
/// literals of Tessera's own, written without escaping.
package struct JSONOutput {
    package private(set) var bytes: [UInt8] = []
    private var needsComma = false

    package init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    package mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    /// Opens an object as the value of member `name`.
    package mutating func beginObject(_ name: StaticString) {
        open(name, UInt8(ascii: "{"))
    }

    package mutating func endObject() {
        close(UInt8(ascii: "}"))
    }

    package mutating func member(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    package mutating func member(_ name: StaticString, _ value: Int64) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    package mutating func member(_ name: StaticString, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    package mutating func member(_ name: StaticString, _ values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(value)
        }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// `name: "…"` with `count` bytes that `write` puts straight into the document:
    /// for text of Tessera's own that needs no escape (a timestamp's digits and
    /// punctuation), without making a `String` of it first.
    package mutating func member(_ name: StaticString, unescapedCount count: Int, _ write: (UnsafeMutableBufferPointer<UInt8>) -> Void) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: count))
        bytes.withUnsafeMutableBufferPointer { write(UnsafeMutableBufferPointer(rebasing: $0[start..<start + count])) }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// `name: null`.
    package mutating func nullMember(_ name: StaticString) {
        key(name)
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    /// `name: value`, or `name: null` when there is no value.
    package mutating func member(_ name: StaticString, orNull value: String?) {
        if let value { member(name, value) } else { nullMember(name) }
    }

    /// Opens an array as the value of member `name`; its elements are objects
    /// opened with ``beginObject()``.
    package mutating func beginArray(_ name: StaticString) {
        open(name, UInt8(ascii: "["))
    }

    package mutating func endArray() {
        close(UInt8(ascii: "]"))
    }

    private mutating func open(_ name: StaticString, _ bracket: UInt8) {
        key(name)
        bytes.append(bracket)
        needsComma = false
    }

    private mutating func close(_ bracket: UInt8) {
        bytes.append(bracket)
        needsComma = true
    }

    /// Writes a parsed JSON value as it was read (numbers keep their text).
    package mutating func value(_ value: JSONValue) {
        separate()
        switch value {
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            needsComma = false
            for name in members.keys.sorted() {
                key(escaping: name)
                self.value(members[name] ?? .null)
            }
            bytes.append(UInt8(ascii: "}"))
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            needsComma = false
            for element in values { self.value(element) }
            bytes.append(UInt8(ascii: "]"))
        case .string(let text): string(text)
        case .number(let text): bytes.append(contentsOf: text.utf8)
        case .bool(let flag): bytes.append(contentsOf: (flag ? "true" : "false").utf8)
        case .null: bytes.append(contentsOf: "null".utf8)
        }
        needsComma = true
    }

    /// A member name of Tessera's own: a literal that needs no escape, copied as it is.
    private mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        // Byte by byte: an array literal here was allocated on every member.
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A member name read from a document: escaped as any string is.
    private mutating func key(escaping name: String) {
        separate()
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most values (tokens, ids, scopes) need no escape: copy them whole.
        let copied = value.utf8.withContiguousStorageIfAvailable { utf8 in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if copied == true {
            bytes.append(UInt8(ascii: "\""))
            needsComma = true
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [
                    UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                ])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }
}
