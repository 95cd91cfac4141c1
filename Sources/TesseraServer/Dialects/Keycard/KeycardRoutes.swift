import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// Keycard (`seeds/003_…`): `POST /organizations/{organization_id}/service-accounts`
/// with `{name, description?}`; ids are 26-character URL-safe strings; an
/// `X-Client-Request-ID` (UUID) is echoed; `expand[]=permissions` adds the caller's
/// permissions on the organisation.
struct KeycardRoutes: Sendable {
    let api: AdminAPI
    private var tessera: Tessera { api.tessera }

    func register(on router: Router<TesseraRequestContext>) {
        router.post("/organizations/:organization/service-accounts") { request, context in await create(request, context) }
    }

    private struct Account: Encodable {
        let id: String
        let createdAt: String
        let name: String
        let updatedAt: String
        let description: String?
        let permissions: [String: [String: Bool]]?

        enum CodingKeys: String, CodingKey {
            case id, name, description, permissions
            case createdAt = "created_at"
            case updatedAt = "updated_at"
        }
    }

    func create(_ request: Request, _ context: TesseraRequestContext) async -> Response {
        var echo: HTTPFields = [:]
        let requestIDName = HTTPField.Name.clientRequestID
        if let given = request.headers[requestIDName] {
            guard UUID(uuidString: given) != nil else {
                return Problem(.badRequest, "X-Client-Request-ID must be a UUID", field: "X-Client-Request-ID").response
            }
            echo[requestIDName] = given
        }
        func problem(_ problem: Problem) -> Response {
            var response = problem.response
            for field in echo { response.headers[field.name] = field.value }
            return response
        }
        do {
            let principal = try await api.authentication.principal(request)
            guard let organization = context.parameters.get("organization"), (1...255).contains(organization.count) else {
                return problem(Problem(.badRequest, "organization_id must be 1–255 characters", field: "organization_id"))
            }
            let tenant = try await api.authentication.tenant(organization, for: principal)
            var reader = try await JSONBody.read(request, accepting: ["application/json"])
            guard let name = try reader.string("name") else { throw Problem(.badRequest, "name is required", field: "name") }
            let description = try reader.string("description")
            try reader.finish()
            let created = try await tessera.accounts.create(
                in: tenant, NewServiceAccount(name: name, description: description), by: Caller(principal)
            )
            await api.recordAccountCreated(created.account, by: principal, status: .created, context)
            let expand = request.uri.queryParameters.getAll("expand[]") + request.uri.queryParameters.getAll("expand")
            let permissions: [String: [String: Bool]]? = expand.contains("permissions") ? [
                "organizations": ["read": true, "update": principal.isSuperAdmin],
                "service_accounts": ["create": true, "read": true, "update": true, "delete": true],
            ] : nil
            let account = Account(
                id: Crockford32.encode(created.account.id).lowercased(),
                createdAt: RezolveRoutes.timestamp(created.account.createdAt), name: created.account.name,
                updatedAt: RezolveRoutes.timestamp(created.account.updatedAt), description: created.account.description,
                permissions: permissions
            )
            return .json(account, status: .created, headers: echo)
        } catch {
            return problem(Problem(error))
        }
    }
}
