import Foundation

/// Which service accounts to list.
public struct ServiceAccountFilter: Sendable, Hashable {
    public var status: ServiceAccount.Status?
    public var role: String?
    public var group: String?
    public var namePrefix: String?
    /// Only accounts whose `number` is below this one, and of those the last ones:
    /// a page backwards from a cursor (still answered in ascending order).
    public var beforeNumber: Int?
    /// Only members of this project (``ServiceAccount/ProjectMembership/project``).
    public var project: String?

    public init(status: ServiceAccount.Status? = nil, role: String? = nil, group: String? = nil, namePrefix: String? = nil) {
        self.status = status
        self.role = role
        self.group = group
        self.namePrefix = namePrefix
    }
}
