/// A named set of scopes. An account's token scopes are the union of its roles' scopes.
public struct Role: Sendable, Hashable, Codable {
    public var name: String
    public var scopes: [String]
    /// Part of the default catalogue every tenant starts with.
    public var builtin: Bool

    public init(name: String, scopes: [String], builtin: Bool = false) {
        self.name = name
        self.scopes = scopes
        self.builtin = builtin
    }
}

/// Scopes with a meaning to Tessera itself.
public enum TesseraScope {
    /// Manage the token's own tenant through the admin API.
    public static let admin = "tessera:admin"
    /// Manage every tenant.
    public static let superAdmin = "tessera:super"
    /// Call the introspection endpoint.
    public static let introspect = "tessera:introspect"
    /// SCIM provisioning only: what a SCIM-restricted secret's tokens carry.
    public static let scim = "scim"
}

extension Role {
    /// The catalogue every tenant starts with (docs/ARCHITECTURE.md §4): the seed APIs' role names (owner, admin, manager, editor, analyst, member, consumer) plus `super_admin`.
    ///
    /// | role | scopes |
    /// |---|---|
    /// | super_admin | tessera:super tessera:admin tessera:introspect scim api:read api:write |
    /// | owner, admin | tessera:admin tessera:introspect scim api:read api:write |
    /// | manager, editor | api:read api:write |
    /// | analyst, member, consumer | api:read |
    public static let defaultCatalogue: [Role] = [
        Role(
            name: "super_admin", scopes: [TesseraScope.superAdmin, TesseraScope.admin, TesseraScope.introspect, TesseraScope.scim, "api:read", "api:write"],
            builtin: true),
        Role(name: "owner", scopes: [TesseraScope.admin, TesseraScope.introspect, TesseraScope.scim, "api:read", "api:write"], builtin: true),
        Role(name: "admin", scopes: [TesseraScope.admin, TesseraScope.introspect, TesseraScope.scim, "api:read", "api:write"], builtin: true),
        Role(name: "manager", scopes: ["api:read", "api:write"], builtin: true),
        Role(name: "editor", scopes: ["api:read", "api:write"], builtin: true),
        Role(name: "analyst", scopes: ["api:read"], builtin: true),
        Role(name: "member", scopes: ["api:read"], builtin: true),
        Role(name: "consumer", scopes: ["api:read"], builtin: true),
    ]

    /// The default role of an account created without roles.
    public static let defaultRoleName = "consumer"
}
