/// The SQLite store's audit log.

import Foundation
import GRDB
import TesseraCore

extension SQLiteStorage {
    // MARK: Audit

    public func appendAuditEvent(_ event: AuditEvent) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO audit_events (tenant_id, actor, action, resource_type, resource_id, outcome, status, request_id, at, detail)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    event.tenantID?.text, event.actor, event.action, event.resourceType, event.resourceID,
                    event.outcome.rawValue, event.status, event.requestID, event.at.timeIntervalSince1970, event.detail,
                ]
            )
        }
    }

    public func auditEvents(tenantID: UUID, filter: AuditFilter, beforeID: Int64?, limit: Int) async throws -> [AuditEvent] {
        try await read { db in
            var sql = "SELECT * FROM audit_events WHERE tenant_id = ? AND id < ?"
            var arguments: StatementArguments = [tenantID.text, beforeID ?? Int64.max]
            for (column, value) in [
                ("action", filter.action), ("actor", filter.actor), ("resource_id", filter.resourceID), ("outcome", filter.outcome?.rawValue),
            ] {
                if let value {
                    sql += " AND \(column) = ?"
                    _ = arguments.append(contentsOf: [value])
                }
            }
            sql += " ORDER BY id DESC LIMIT ?"
            _ = arguments.append(contentsOf: [limit])
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                AuditEvent(
                    id: row["id"], tenantID: (row["tenant_id"] as String?).flatMap(UUID.init(uuidString:)), actor: row["actor"],
                    action: row["action"], resourceType: row["resource_type"], resourceID: row["resource_id"],
                    outcome: AuditEvent.Outcome(rawValue: row["outcome"]) ?? .failure, status: row["status"],
                    requestID: row["request_id"], at: Date(timeIntervalSince1970: row["at"]), detail: row["detail"]
                )
            }
        }
    }
}
