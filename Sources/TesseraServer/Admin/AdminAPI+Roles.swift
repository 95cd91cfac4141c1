import Foundation
import Hummingbird
import TesseraCore

/// The admin API's handlers for a tenant's role catalogue and its audit log.
extension AdminAPI {
    // MARK: Roles

    func listRoles(_ call: Call) async throws -> (Response, resourceID: String?) {
        let roles = try await tessera.roles.list(in: call.tenant)
        return (.json(Representation.PageJSON(items: roles.map(Representation.RoleJSON.init), nextCursor: nil)), nil)
    }

    func createRole(_ call: Call) async throws -> (Response, resourceID: String?) {
        var reader = try await call.body()
        guard let name = try reader.string("name") else { throw Problem(.badRequest, "name is required", field: "name") }
        guard let scopes = try reader.stringArray("scopes") else { throw Problem(.badRequest, "scopes is required", field: "scopes") }
        try reader.finish()
        let role = try await tessera.roles.create(Role(name: name, scopes: scopes), in: call.tenant)
        return (
            .json(Representation.RoleJSON(role), status: .created, headers: [.location: "/v1/tenants/\(try call.tenant.slug)/roles/\(role.name)"]), role.name
        )
    }

    func putRole(_ call: Call) async throws -> (Response, resourceID: String?) {
        let name = try call.parameter("name")
        var reader = try await call.body()
        if let bodyName = try reader.string("name"), bodyName != name {
            throw Problem(.badRequest, "name in the body must match the path", field: "name")
        }
        guard let scopes = try reader.stringArray("scopes") else { throw Problem(.badRequest, "scopes is required", field: "scopes") }
        try reader.finish()
        let role = try await tessera.roles.update(Role(name: name, scopes: scopes), in: call.tenant)
        return (.json(Representation.RoleJSON(role)), nil)
    }

    func deleteRole(_ call: Call) async throws -> (Response, resourceID: String?) {
        try await tessera.roles.delete(try call.parameter("name"), in: call.tenant)
        return (Response(status: .noContent), nil)
    }

    // MARK: Audit

    func listAuditEvents(_ call: Call) async throws -> (Response, resourceID: String?) {
        let (limit, cursor) = try call.paging()
        var filter = AuditFilter(action: try call.query("action"), actor: try call.query("actor"), resourceID: try call.query("resource_id"))
        if let outcome = try call.query("outcome") {
            guard let parsed = AuditEvent.Outcome(rawValue: outcome) else {
                throw Problem(.badRequest, "outcome must be success or failure", field: "outcome")
            }
            filter.outcome = parsed
        }
        let page = try await tessera.audit.list(in: call.tenant, filter: filter, before: cursor, limit: limit)
        return (.json(Representation.PageJSON(items: page.items.map(Representation.Event.init), nextCursor: Cursor.encode(page.nextCursor))), nil)
    }
}
