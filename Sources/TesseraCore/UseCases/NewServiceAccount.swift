import Foundation

/// The fields a caller may give when creating a service account (docs/ARCHITECTURE.md §4).
public struct NewServiceAccount: Sendable, Hashable {
    public var name: String?
    public var description: String?
    public var roles: [String]?
    public var groups: [String]?
    public var projects: [ServiceAccount.ProjectMembership]?
    public var audiences: [String]?
    public var expiresAt: Date?
    /// The name is descriptive, not an identifier (Mixpanel's `username`): when
    /// another account has it, this one takes it with a random suffix, as a
    /// generated name does, instead of failing.
    public var nameMayRepeat: Bool
    /// Whether the account is made with a first secret, shown once (`false` for an
    /// API whose accounts get their credentials by a call of their own, as Keycard's).
    public var issuesSecret: Bool
    /// What its tokens must be bound to, and its `tls_client_auth` name (docs/binding.md).
    public var binding: TokenBinding

    public init(
        name: String? = nil, description: String? = nil, roles: [String]? = nil, groups: [String]? = nil,
        projects: [ServiceAccount.ProjectMembership]? = nil, audiences: [String]? = nil, expiresAt: Date? = nil,
        nameMayRepeat: Bool = false, issuesSecret: Bool = true, binding: TokenBinding = TokenBinding()
    ) {
        self.binding = binding
        self.nameMayRepeat = nameMayRepeat
        self.issuesSecret = issuesSecret
        self.name = name
        self.description = description
        self.roles = roles
        self.groups = groups
        self.projects = projects
        self.audiences = audiences
        self.expiresAt = expiresAt
    }
}

/// A created account with its first secret, which is shown this once (none when
/// ``NewServiceAccount/issuesSecret`` was false).
public struct CreatedServiceAccount: Sendable {
    public let account: ServiceAccount
    public let secret: ClientSecret?
    /// The plain secret; never stored, never logged.
    public let clientSecret: String?
}
