import Foundation
import TesseraJOSE

/// Reads a JSON object member by member, so every type or shape error names the
/// member at fault, and members nobody read are refused.
struct JSONObjectReader {
    private let object: [String: JSONValue]
    private var seen: Set<String> = []

    /// Parses `bytes` as one JSON object; an empty body is an empty object.
    ///
    /// The parser is the strict one that reads JWS headers and claims (RFC 8259
    /// exactly, nesting at most 32 deep), so a body that names a member twice is
    /// refused here as it is in a token, never read as "the last one wins".
    init(_ bytes: [UInt8]) throws(Problem) {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            object = [:]
            return
        }
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(bytes)
        } catch {
            throw Problem(.badRequest, "the body is not valid JSON, or names a member twice")
        }
        guard case .object(let object) = parsed else { throw Problem(.badRequest, "the body must be a JSON object") }
        self.object = object
    }

    private init(object: [String: JSONValue]) {
        self.object = object
    }

    /// The member, `nil` when absent. `null` is refused here: members that `null`
    /// clears are read through ``nullable(_:_:)``, which handles it first.
    private mutating func value(_ key: String) throws(Problem) -> JSONValue? {
        seen.insert(key)
        guard let value = object[key] else { return nil }
        if value == .null { throw Problem(.badRequest, "\(key) must not be null", field: key) }
        return value
    }

    /// Whether the member is present (even as `null`).
    func has(_ key: String) -> Bool { object[key] != nil }

    /// For members that `null` clears: `nil` when absent, `.some(nil)` when null, else what `read` gives.
    mutating func nullable<T>(_ key: String, _ read: (inout JSONObjectReader) throws(Problem) -> T?) throws(Problem) -> T?? {
        guard let value = object[key] else { return nil }
        if value == .null {
            seen.insert(key)
            return .some(nil)
        }
        return .some(try read(&self))
    }

    /// The member as parsed, for members that take more than one JSON type.
    mutating func json(_ key: String) throws(Problem) -> JSONValue? {
        try value(key)
    }

    mutating func string(_ key: String) throws(Problem) -> String? {
        guard let value = try value(key) else { return nil }
        guard case .string(let string) = value else { throw Problem(.badRequest, "\(key) must be a string", field: key) }
        return string
    }

    /// An integer literal (no fraction or exponent) that fits 64 bits.
    mutating func integer(_ key: String) throws(Problem) -> Int? {
        guard let value = try value(key) else { return nil }
        guard let integer = value.int64.flatMap({ Int(exactly: $0) }) else {
            throw Problem(.badRequest, "\(key) must be an integer", field: key)
        }
        return integer
    }

    mutating func bool(_ key: String) throws(Problem) -> Bool? {
        guard let value = try value(key) else { return nil }
        guard case .bool(let bool) = value else { throw Problem(.badRequest, "\(key) must be true or false", field: key) }
        return bool
    }

    mutating func stringArray(_ key: String) throws(Problem) -> [String]? {
        guard let value = try value(key) else { return nil }
        guard case .array(let array) = value else { throw Problem(.badRequest, "\(key) must be an array of strings", field: key) }
        var strings: [String] = []
        for element in array {
            guard case .string(let string) = element else { throw Problem(.badRequest, "\(key) must be an array of strings", field: key) }
            strings.append(string)
        }
        return strings
    }

    /// An array of integer literals that fit 64 bits.
    mutating func integerArray(_ key: String) throws(Problem) -> [Int]? {
        guard let value = try value(key) else { return nil }
        guard case .array(let array) = value else { throw Problem(.badRequest, "\(key) must be an array of integers", field: key) }
        var integers: [Int] = []
        for element in array {
            guard let integer = element.int64.flatMap({ Int(exactly: $0) }) else {
                throw Problem(.badRequest, "\(key) must be an array of integers", field: key)
            }
            integers.append(integer)
        }
        return integers
    }

    /// A JSON Web Key (RFC 7517 §4): an object whose known members are strings.
    mutating func jwk(_ key: String) throws(Problem) -> JWK? {
        guard let value = try value(key) else { return nil }
        guard case .object(let members) = value, let jwk = try? JWK(members: members) else {
            throw Problem(.badRequest, "\(key) must be an object of the documented shape", field: key)
        }
        return jwk
    }

    mutating func date(_ key: String) throws(Problem) -> Date? {
        guard let text = try string(key) else { return nil }
        guard let date = ISO8601.date(text) else {
            throw Problem(.badRequest, "\(key) must be an RFC 3339 timestamp such as 2030-01-01T00:00:00Z", field: key)
        }
        return date
    }

    /// An array of objects, each read with `body`.
    mutating func objects<T>(_ key: String, _ body: (inout JSONObjectReader) throws(Problem) -> T) throws(Problem) -> [T]? {
        guard let value = try value(key) else { return nil }
        guard case .array(let array) = value else { throw Problem(.badRequest, "\(key) must be an array of objects", field: key) }
        var result: [T] = []
        for element in array {
            guard case .object(let object) = element else { throw Problem(.badRequest, "\(key) must be an array of objects", field: key) }
            var reader = JSONObjectReader(object: object)
            do {
                result.append(try body(&reader))
                try reader.finish()
            } catch {
                throw Problem(.badRequest, "\(key): \(error.detail)", field: key)
            }
        }
        return result
    }

    /// A nested object read with `body`; a problem inside names its member as a
    /// path (`data/attributes/name`), and unknown members inside are refused.
    mutating func object<T>(_ key: String, _ body: (inout JSONObjectReader) throws(Problem) -> T) throws(Problem) -> T? {
        guard let value = try value(key) else { return nil }
        guard case .object(let object) = value else { throw Problem(.badRequest, "\(key) must be an object", field: key) }
        var reader = JSONObjectReader(object: object)
        do {
            let result = try body(&reader)
            try reader.finish()
            return result
        } catch {
            var problem = error
            problem.field = key + (problem.field.map { "/" + $0 } ?? "")
            throw problem
        }
    }

    /// Marks a member as read without reading it, for members a format allows and ignores.
    mutating func ignore(_ key: String) {
        seen.insert(key)
    }

    /// Refuses members that were never read.
    func finish() throws(Problem) {
        if let unknown = object.keys.sorted().first(where: { !seen.contains($0) }) {
            throw Problem(.badRequest, "unknown member \"\(unknown)\"", field: unknown)
        }
    }
}
