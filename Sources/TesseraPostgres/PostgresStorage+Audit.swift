/// The PostgreSQL store's audit log.

import Foundation
import PostgresNIO
import TesseraCore

extension PostgresStorage {
    // MARK: Audit

    /// One statement, committed on its own: no `BEGIN` and `COMMIT` round trips
    /// around it, and durable all the same.
    public func appendAuditEvent(_ event: AuditEvent) async throws {
        _ = try await query(
            """
            INSERT INTO audit_events (tenant_id, actor, action, resource_type, resource_id, outcome, status, request_id, at, detail)
            VALUES (\(event.tenantID), \(event.actor), \(event.action), \(event.resourceType), \(event.resourceID),
                    \(event.outcome.rawValue), \(event.status), \(event.requestID), \(event.at.timeIntervalSince1970), \(event.detail))
            """)
    }

    public func auditEvents(tenantID: UUID, filter: AuditFilter, beforeID: Int64?, limit: Int) async throws -> [AuditEvent] {
        let base: PostgresQuery = "SELECT * FROM audit_events WHERE tenant_id = \(tenantID) AND id < \(beforeID ?? Int64.max)"
        var binds = base.binds
        var text = base.sql
        for (column, value) in [("action", filter.action), ("actor", filter.actor), ("resource_id", filter.resourceID), ("outcome", filter.outcome?.rawValue)] {
            if let value {
                binds.append(value, context: .default)
                text += " AND \(column) = $\(binds.count)"
            }
        }
        binds.append(limit, context: .default)
        text += " ORDER BY id DESC LIMIT $\(binds.count)"
        return try await query(PostgresQuery(unsafeSQL: text, binds: binds)).map { row in
            AuditEvent(
                id: try row["id"].decode(Int64.self), tenantID: try row["tenant_id"].decode(UUID?.self), actor: try row["actor"].decode(String.self),
                action: try row["action"].decode(String.self), resourceType: try row["resource_type"].decode(String.self),
                resourceID: try row["resource_id"].decode(String?.self),
                outcome: AuditEvent.Outcome(rawValue: try row["outcome"].decode(String.self)) ?? .failure,
                status: try row["status"].decode(Int.self), requestID: try row["request_id"].decode(String?.self),
                at: Date(timeIntervalSince1970: try row["at"].decode(Double.self)), detail: try row["detail"].decode(String?.self)
            )
        }
    }
}
