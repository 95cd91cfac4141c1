import Foundation

/// Reads a JSON object member by member, so every type or shape error names the
/// member at fault, and members nobody read are refused.
struct JSONObjectReader {
    private let object: [String: Any]
    private var seen: Set<String> = []

    /// Parses `bytes` as one JSON object; an empty body is an empty object.
    init(_ bytes: [UInt8]) throws(Problem) {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            object = [:]
            return
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw Problem(.badRequest, "the body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw Problem(.badRequest, "the body must be a JSON object") }
        self.object = object
    }

    private mutating func value(_ key: String) -> Any? {
        seen.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        return value
    }

    mutating func string(_ key: String) throws(Problem) -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value as? String else { throw Problem(.badRequest, "\(key) must be a string", field: key) }
        return string
    }

    mutating func stringArray(_ key: String) throws(Problem) -> [String]? {
        guard let value = value(key) else { return nil }
        guard let array = value as? [Any], let strings = array as? [String], array.allSatisfy({ $0 is String }) else {
            throw Problem(.badRequest, "\(key) must be an array of strings", field: key)
        }
        return strings
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
        guard let value = value(key) else { return nil }
        guard let array = value as? [Any] else { throw Problem(.badRequest, "\(key) must be an array of objects", field: key) }
        var result: [T] = []
        for element in array {
            guard let object = element as? [String: Any] else { throw Problem(.badRequest, "\(key) must be an array of objects", field: key) }
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

    private init(object: [String: Any]) {
        self.object = object
    }

    /// Refuses members that were never read.
    func finish() throws(Problem) {
        if let unknown = object.keys.sorted().first(where: { !seen.contains($0) }) {
            throw Problem(.badRequest, "unknown member \"\(unknown)\"", field: unknown)
        }
    }
}
