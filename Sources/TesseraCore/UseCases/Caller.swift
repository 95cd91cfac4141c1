import Foundation

/// Who performs an admin action, and whether they may grant cross-tenant power.
public struct Caller: Sendable, Hashable {
    /// The acting account's id, or a name such as `bootstrap`.
    public let id: String
    /// Holds `tessera:super`: may grant roles that carry it.
    public let isSuperAdmin: Bool

    public init(id: String, isSuperAdmin: Bool) {
        self.id = id
        self.isSuperAdmin = isSuperAdmin
    }

    /// The principal behind an access token.
    public init(_ principal: Principal) {
        self.init(id: principal.accountID.lowercased, isSuperAdmin: principal.isSuperAdmin)
    }

    /// `tessera bootstrap`, run by whoever holds the database and master key.
    public static let bootstrap = Caller(id: "bootstrap", isSuperAdmin: true)
}
