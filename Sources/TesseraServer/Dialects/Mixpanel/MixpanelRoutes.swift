import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// Mixpanel (`seeds/001_…`): `POST /api/app/organizations/{organizationId}/service-accounts`
/// with the organisation's integer `number`, authenticated by HTTP Basic with a
/// service account's `username:secret` (the seed's security scheme) or a Bearer
/// token; answers `{results, status: "ok"}` or `{error, status: "error"}`.
///
/// The `username` Mixpanel returns is the one to authenticate with, so it is the
/// account's client id; the descriptive `username` of the request becomes the
/// account's name.
struct MixpanelRoutes: Sendable {
    let api: AdminAPI
    private var tessera: Tessera { api.tessera }

    /// Mixpanel's roles, all in Tessera's default catalogue.
    static let roles: Set<String> = ["owner", "admin", "analyst", "consumer"]
    /// The role of an account created without one: the least privileged.
    static let defaultRole = "consumer"

    func register(on router: Router<TesseraRequestContext>) {
        router.post("/api/app/organizations/:organization/service-accounts") { request, context in await create(request, context) }
    }

    private struct Created: Encodable {
        struct Results: Encodable {
            let token: String
            let id: Int
            let username: String
            let expires: Date?
            let creator: Int?
            let created: Date
            let user: Int
        }

        let results: Results
        let status = "ok"
    }

    private struct Failure: Encodable {
        let error: String
        let status = "error"
    }

    /// Mixpanel documents 400, 401, 403 and 404: conflicts and unreadable bodies are
    /// its 400; throttling and an unavailable store keep their own status.
    private static func failure(_ problem: Problem) -> Response {
        let status: HTTPResponse.Status = switch problem.status {
        case .conflict, .contentTooLarge, .unsupportedMediaType: .badRequest
        default: problem.status
        }
        return .json(Failure(error: problem.detail), status: status, headers: problem.headers)
    }

    func create(_ request: Request, _ context: TesseraRequestContext) async -> Response {
        do {
            let principal = try await api.authentication.principal(request, allowingBasicFrom: context.peer)
            guard let text = context.parameters.get("organization"), let number = Int(text) else {
                throw Problem(.badRequest, "organizationId must be an integer")
            }
            // An unknown organisation and another one's answer alike, so none can be discovered.
            guard let tenant = try await tessera.tenants.find(number: number), principal.isSuperAdmin || principal.tenantID == tenant.id else {
                throw Problem(.notFound, "organization not found")
            }
            guard principal.mayAdminister(tenantID: tenant.id) else {
                throw Problem(.forbidden, "creating service accounts requires the owner or admin role")
            }
            var reader = try await JSONBody.read(request, accepting: ["application/json"])
            guard let username = try reader.string("username") else { throw Problem(.badRequest, "username is required", field: "username") }
            let role = try reader.string("role") ?? Self.defaultRole
            guard Self.roles.contains(role) else {
                throw Problem(.badRequest, "role must be one of owner, admin, analyst, consumer", field: "role")
            }
            let expires = try reader.date("expires")
            let projects = try reader.objects("projects") { project throws(Problem) in
                guard let id = try project.integer("id") else { throw Problem(.badRequest, "id is required", field: "id") }
                let role = try project.string("role") ?? role
                guard Self.roles.contains(role) else { throw Problem(.badRequest, "role must be one of owner, admin, analyst, consumer", field: "role") }
                return ServiceAccount.ProjectMembership(project: String(id), role: role)
            }
            try reader.finish()

            let created = try await tessera.accounts.create(
                in: tenant, NewServiceAccount(name: username, roles: [role], projects: projects, expiresAt: expires), by: Caller(principal)
            )
            let creator = try? await tessera.storage.serviceAccount(id: principal.accountID, tenantID: principal.tenantID)
            await api.recordAccountCreated(created.account, by: principal, status: .created, context)
            let results = Created.Results(
                token: created.clientSecret, id: created.account.number, username: created.account.clientID,
                expires: created.account.expiresAt, creator: creator?.number, created: created.account.createdAt, user: created.account.number
            )
            return .json(Created(results: results), status: .created)
        } catch {
            return Self.failure(Problem(error))
        }
    }
}
