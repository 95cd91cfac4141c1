import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// Keycard's service-account API: `POST /organizations/{organization_id}/service-accounts`
/// with `{name, description?}`; ids are 26-character URL-safe strings; an
/// `X-Client-Request-ID` (UUID) is echoed; `expand[]=permissions` adds the caller's
/// permissions on the organisation.
struct KeycardRoutes: Sendable {
    let api: AdminAPI

    func register(on router: Router<TesseraRequestContext>) {
        DialectPipeline(api: api).register(
            DialectRoute(
                method: .post, path: "/organizations/:organization/service-accounts", kind: .createAccount,
                precheck: { call throws(Problem) in
                    _ = try QueryParameters(call.request)
                    if let given = call.request.headers[.clientRequestID], UUID(uuidString: given) == nil {
                        throw Problem(.badRequest, "X-Client-Request-ID must be a UUID", field: "X-Client-Request-ID")
                    }
                },
                tenant: { call throws(Problem) in
                    guard let organization = call.parameters.get("organization"), (1...255).contains(organization.count) else {
                        throw Problem(.badRequest, "organization_id must be 1–255 characters", field: "organization_id")
                    }
                    return .reference(organization)
                },
                parse: { call in
                    var reader = try await call.body()
                    guard let name = try reader.string("name") else { throw Problem(.badRequest, "name is required", field: "name") }
                    let description = try reader.string("description")
                    try reader.finish()
                    return .createAccount(NewServiceAccount(name: name, description: description))
                },
                render: { outcome, call in try Self.render(outcome, call) },
                failure: { problem, call in Self.echoingRequestID(problem.response, call) }
            ),
            on: router
        )
    }

    /// A valid `X-Client-Request-ID` is sent back on every answer.
    private static func echoingRequestID(_ response: Response, _ call: DialectRequest) -> Response {
        guard let given = call.request.headers[.clientRequestID], UUID(uuidString: given) != nil else { return response }
        var response = response
        response.headers[.clientRequestID] = given
        return response
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

    private static func render(_ outcome: DialectOutcome, _ call: DialectRequest) throws -> Response {
        guard case .accountCreated(let created, _, _, _) = outcome, let principal = call.principal else {
            throw Problem(.internalServerError, "unexpected outcome")
        }
        let query = try QueryParameters(call.request)
        let expand = query.all("expand[]") + query.all("expand")
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
        return echoingRequestID(.json(account, status: .created), call)
    }
}
