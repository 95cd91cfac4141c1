import Foundation

/// A non-human identity that authenticates at the token endpoint with its client id.
public struct ServiceAccount: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case active
        case disabled
    }

    /// A membership of a project with a role in it.
    public struct ProjectMembership: Sendable, Hashable, Codable {
        public var project: String
        public var role: String

        public init(project: String, role: String) {
            self.project = project
            self.role = role
        }
    }

    public var id: UUID
    public var tenantID: UUID
    /// A unique integer for APIs that address accounts by number; assigned by the store.
    public var number: Int
    /// The OAuth client id; stable for the account's life.
    public var clientID: String
    public var name: String
    public var description: String?
    public var roles: [String]
    public var groups: [String]
    public var projects: [ProjectMembership]
    /// Audiences the account may request; empty means the tenant default only.
    public var audiences: [String]
    public var status: Status
    public var expiresAt: Date?
    /// Token lifetime in seconds; `nil` means the tenant's.
    public var tokenLifetime: Int?
    /// What its tokens must be bound to, and its `tls_client_auth` name (docs/binding.md).
    public var binding: TokenBinding
    public var createdAt: Date
    public var updatedAt: Date
    /// Who created it: the creating account's id, or `bootstrap`.
    public var createdBy: String?
    public var lastUsedAt: Date?

    public init(
        id: UUID, tenantID: UUID, number: Int = 0, clientID: String, name: String, description: String? = nil,
        roles: [String], groups: [String] = [], projects: [ProjectMembership] = [], audiences: [String] = [],
        status: Status = .active, expiresAt: Date? = nil, tokenLifetime: Int? = nil, binding: TokenBinding = TokenBinding(),
        createdAt: Date, updatedAt: Date, createdBy: String? = nil, lastUsedAt: Date? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.number = number
        self.clientID = clientID
        self.name = name
        self.description = description
        self.roles = roles
        self.groups = groups
        self.projects = projects
        self.audiences = audiences
        self.status = status
        self.expiresAt = expiresAt
        self.tokenLifetime = tokenLifetime
        self.binding = binding
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.createdBy = createdBy
        self.lastUsedAt = lastUsedAt
    }

    /// Whether the account may obtain tokens at `now`.
    public func isUsable(at now: Date) -> Bool {
        status == .active && (expiresAt.map { $0 > now } ?? true)
    }
}

/// One of an account's credentials: a client secret or an API token. Only the
/// SHA-256 digest of its value is kept.
public struct ClientSecret: Sendable, Hashable {
    /// What the value proves, and where it is accepted.
    public enum Kind: String, Sendable, Hashable {
        /// Authenticates the client at the token endpoint (`client_secret_basic`,
        /// `client_secret_post`), and as HTTP Basic where a seed API takes it.
        case clientSecret = "client_secret"
        /// A long-lived opaque bearer token (`tsa_…`), presented as it is to the admin
        /// API, the seed APIs and introspection; never accepted at the token endpoint.
        case apiToken = "api_token"
    }

    public var id: UUID
    public var accountID: UUID
    public var kind: Kind
    /// Unique per account, across both kinds.
    public var name: String
    /// What the credential is for, in the administrator's words (at most 500 characters).
    public var description: String?
    /// A short non-secret reminder of which secret this is (its prefix and last characters).
    public var hint: String
    /// SHA-256 of the secret's UTF-8 bytes.
    public var digest: [UInt8]
    /// When set, tokens obtained with this secret never carry other scopes.
    public var scopes: [String]?
    public var enabled: Bool
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?

    public init(
        id: UUID, accountID: UUID, kind: Kind = .clientSecret, name: String, description: String? = nil, hint: String, digest: [UInt8],
        scopes: [String]? = nil, enabled: Bool = true, createdAt: Date, expiresAt: Date? = nil, lastUsedAt: Date? = nil
    ) {
        self.description = description
        self.id = id
        self.accountID = accountID
        self.kind = kind
        self.name = name
        self.hint = hint
        self.digest = digest
        self.scopes = scopes
        self.enabled = enabled
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
    }

    /// Whether this secret may authenticate at `now`.
    public func isUsable(at now: Date) -> Bool {
        enabled && (expiresAt.map { $0 > now } ?? true)
    }
}
