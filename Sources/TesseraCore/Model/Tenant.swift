import Foundation

/// An organisation whose service accounts, roles and tokens are isolated from every other.
public struct Tenant: Sendable, Hashable, Codable {
    public var id: UUID
    /// Unique, URL-safe, lower-case (`[a-z0-9][a-z0-9-]{0,62}`).
    public var slug: String
    /// A unique integer for APIs that address organisations by number; assigned by the store.
    public var number: Int
    public var name: String
    /// How many service accounts the tenant may hold; `nil` means no limit.
    public var accountLimit: Int?
    /// Default access-token lifetime in seconds; `nil` means the issuer default.
    public var tokenLifetime: Int?
    /// The `aud` of tokens that ask for none; `nil` means the issuer URL.
    public var defaultAudience: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UUID, slug: String, number: Int = 0, name: String, accountLimit: Int? = nil,
        tokenLifetime: Int? = nil, defaultAudience: String? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.slug = slug
        self.number = number
        self.name = name
        self.accountLimit = accountLimit
        self.tokenLifetime = tokenLifetime
        self.defaultAudience = defaultAudience
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Whether `slug` is a valid tenant slug.
    public static func isValidSlug(_ slug: String) -> Bool {
        let bytes = Array(slug.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func allowed(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        }
        return allowed(bytes[0]) && bytes.allSatisfy { allowed($0) || $0 == UInt8(ascii: "-") }
    }
}
