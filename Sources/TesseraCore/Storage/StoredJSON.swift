import Foundation
import TesseraJOSE

/// Lists and small structures as both stores keep them: JSON text in a column.
/// `package`: the stores of this package use it, nothing outside.
package enum StoredJSON {
    package static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    package static func decode<T: Decodable>(_ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    /// A list of strings, read without `JSONDecoder`: every client the token
    /// endpoint loads has four of them.
    package static func strings(_ text: String) throws -> [String] {
        try Array(text.utf8).withUnsafeBufferPointer(strings)
    }

    /// ``strings(_:)`` of text given as UTF-8 bytes (a column SQLite hands out).
    package static func strings(_ utf8: UnsafeBufferPointer<UInt8>) throws -> [String] {
        if let plain = plainStrings(utf8) { return plain }
        guard let strings = try? JSONValue.parse(Array(utf8)).strings else {
            throw StoreError.unavailable("a stored list is not a JSON array of strings")
        }
        return strings
    }

    /// An account's project memberships, read without `JSONDecoder`: a page of
    /// accounts reads fifty of them. Members other than `project` and `role` are
    /// ignored, as `JSONDecoder` would.
    package static func projects(_ text: String) throws -> [ServiceAccount.ProjectMembership] {
        try Array(text.utf8).withUnsafeBufferPointer(projects)
    }

    /// ``projects(_:)`` of text given as UTF-8 bytes.
    package static func projects(_ utf8: UnsafeBufferPointer<UInt8>) throws -> [ServiceAccount.ProjectMembership] {
        if utf8.count == 2, utf8[0] == UInt8(ascii: "["), utf8[1] == UInt8(ascii: "]") { return [] }
        guard case .array(let values)? = try? JSONValue.parse(Array(utf8)) else {
            throw StoreError.unavailable("stored projects are not a JSON array")
        }
        return try values.map { value in
            guard case .object(let members) = value, case .string(let project)? = members["project"], case .string(let role)? = members["role"]
            else {
                throw StoreError.unavailable("a stored project membership lacks its project or role")
            }
            return ServiceAccount.ProjectMembership(project: project, role: role)
        }
    }

    /// A list as `JSONEncoder` writes plain strings, `["a","b"]`: no whitespace, and
    /// strings of printable ASCII without `"` or `\`, so each is its own bytes. `nil`
    /// for anything else, which the full reader then reads or refuses.
    static func plainStrings(_ utf8: UnsafeBufferPointer<UInt8>) -> [String]? {
        let last = utf8.count - 1
        guard last >= 1, utf8[0] == UInt8(ascii: "["), utf8[last] == UInt8(ascii: "]") else { return nil }
        var strings: [String] = []
        var at = 1
        while at < last {
            guard utf8[at] == UInt8(ascii: "\"") else { return nil }
            let start = at + 1
            var end = start
            while end < last, utf8[end] != UInt8(ascii: "\"") {
                guard utf8[end] >= 0x20, utf8[end] < 0x7F, utf8[end] != UInt8(ascii: "\\") else { return nil }
                end += 1
            }
            guard end < last else { return nil }
            strings.append(String(decoding: UnsafeBufferPointer(rebasing: utf8[start..<end]), as: UTF8.self))
            at = end + 1
            if at == last { return strings }
            guard utf8[at] == UInt8(ascii: ","), at + 1 < last else { return nil }
            at += 1
        }
        return strings
    }
}
