import Foundation

/// One admin action, as the audit log keeps it. Never holds a secret.
public struct AuditEvent: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable, Codable {
        case success
        case failure
    }

    /// Assigned by the store, increasing; newer events have larger ids.
    public var id: Int64
    /// The tenant the action was aimed at (or, when that was refused, the actor's).
    public var tenantID: UUID?
    /// Who: the acting account's id.
    public var actor: String
    /// What, as `resource.verb`, e.g. `service_account.create`.
    public var action: String
    /// Which resource type and id, when known.
    public var resourceType: String
    public var resourceID: String?
    public var outcome: Outcome
    /// The HTTP status answered.
    public var status: Int
    public var requestID: String?
    public var at: Date
    /// Why, in words, when the outcome needs explaining to an administrator (a refused
    /// federated token says which rule failed); never a secret or a token.
    public var detail: String?

    public init(
        id: Int64 = 0, tenantID: UUID?, actor: String, action: String, resourceType: String, resourceID: String?,
        outcome: Outcome, status: Int, requestID: String?, at: Date, detail: String? = nil
    ) {
        self.detail = detail
        self.id = id
        self.tenantID = tenantID
        self.actor = actor
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.outcome = outcome
        self.status = status
        self.requestID = requestID
        self.at = at
    }
}

/// Which audit events to list.
public struct AuditFilter: Sendable, Hashable {
    public var action: String?
    public var actor: String?
    public var resourceID: String?
    public var outcome: AuditEvent.Outcome?

    public init(action: String? = nil, actor: String? = nil, resourceID: String? = nil, outcome: AuditEvent.Outcome? = nil) {
        self.action = action
        self.actor = actor
        self.resourceID = resourceID
        self.outcome = outcome
    }
}
