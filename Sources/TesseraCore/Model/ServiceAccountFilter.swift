import Foundation

/// Which service accounts to list.
public struct ServiceAccountFilter: Sendable, Hashable {
    public var status: ServiceAccount.Status?
    public var role: String?
    public var group: String?
    public var namePrefix: String?

    public init(status: ServiceAccount.Status? = nil, role: String? = nil, group: String? = nil, namePrefix: String? = nil) {
        self.status = status
        self.role = role
        self.group = group
        self.namePrefix = namePrefix
    }
}
