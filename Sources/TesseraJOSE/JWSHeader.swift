import Foundation

/// The protected header of a JWS (RFC 7515 §4.1), limited to what Tessera reads.
public struct JWSHeader: Codable, Sendable, Hashable {
    public var alg: String
    public var kid: String?
    public var typ: String?
    /// Present only to be refused: Tessera understands no critical extension (RFC 7515 §4.1.11).
    public var crit: [String]?

    public init(alg: String, kid: String? = nil, typ: String? = nil) {
        self.alg = alg
        self.kid = kid
        self.typ = typ
    }

    /// Reads a header: `alg` a string; `kid` and `typ` strings and `crit` an
    /// array of strings when present (`null` counts as absent); other members
    /// are ignored.
    public init(json bytes: [UInt8]) throws {
        guard let members = try JSONValue.parse(bytes).object, let alg = members["alg"]?.string else {
            throw JOSEError.malformed("header is not a JSON object with \"alg\"")
        }
        self.alg = alg
        kid = try members.optional("kid", \.string)
        typ = try members.optional("typ", \.string)
        crit = try members.optional("crit", \.strings)
    }
}

extension [String: JSONValue] {
    /// The member `name` read by `read`; `nil` when absent or `null`, an error when of another type.
    func optional<T>(_ name: String, _ read: (JSONValue) -> T?) throws -> T? {
        guard let value = self[name], value != .null else { return nil }
        guard let read = read(value) else { throw JOSEError.malformed("\(name) has the wrong type") }
        return read
    }
}
