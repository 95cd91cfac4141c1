import Foundation

/// The audit log of admin actions.
public struct AuditLog: Sendable {
    let storage: any AuditStorage
    let dependencies: Dependencies

    public init(storage: any AuditStorage, dependencies: Dependencies) {
        self.storage = storage
        self.dependencies = dependencies
    }

    public func record(_ event: AuditEvent) async throws {
        try await storage.appendAuditEvent(event)
    }

    /// One page of the tenant's events, newest first.
    public func list(in tenant: Tenant, filter: AuditFilter, before cursor: Int64?, limit: Int) async throws -> Page<AuditEvent> {
        let items = try await storeCall { try await storage.auditEvents(tenantID: tenant.id, filter: filter, beforeID: cursor, limit: limit + 1) }
        let page = Array(items.prefix(limit))
        return Page(items: page, nextCursor: items.count > limit ? page.last?.id : nil)
    }
}
