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
        guard let strings = try? JSONValue.parse(Array(text.utf8)).strings else {
            throw StoreError.unavailable("a stored list is not a JSON array of strings")
        }
        return strings
    }

    /// An account's project memberships, read without `JSONDecoder`: a page of
    /// accounts reads fifty of them. Members other than `project` and `role` are
    /// ignored, as `JSONDecoder` would.
    package static func projects(_ text: String) throws -> [ServiceAccount.ProjectMembership] {
        guard case .array(let values)? = try? JSONValue.parse(Array(text.utf8)) else {
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
}
