import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// Mixpanel's service-account API: `POST /api/app/organizations/{organizationId}/service-accounts`
/// with the organisation's integer `number`, authenticated by HTTP Basic with a
/// service account's `username:secret` (the seed's security scheme) or a Bearer
/// token; answers `{results, status: "ok"}` or `{error, status: "error"}`.
///
/// The `username` Mixpanel returns is the one to authenticate with, so it is the
/// account's client id; the descriptive `username` of the request becomes the
/// account's name.
struct MixpanelRoutes: Sendable {
    let api: AdminAPI

    /// Mixpanel's roles, all in Tessera's default catalogue.
    static let roles: Set<String> = ["owner", "admin", "analyst", "consumer"]
    /// The role of an account created without one: the least privileged.
    static let defaultRole = "consumer"

    func register(on router: Router<TesseraRequestContext>) {
        DialectPipeline(api: api).register(
            DialectRoute(
                method: .post, path: "/api/app/organizations/:organization/service-accounts", kind: .createAccount,
                credentials: .bearerOrBasic,
                tenant: { call throws(Problem) in
                    guard let text = call.parameters.get("organization"), let number = Int(text) else {
                        throw Problem(.badRequest, "organizationId must be an integer")
                    }
                    return .number(number)
                },
                refusals: TenantRefusals(notFound: "organization not found", forbidden: "creating service accounts requires the owner or admin role"),
                parse: { call in try await Self.parse(call) },
                render: { outcome, _ in try Self.render(outcome) },
                failure: { problem, _ in Self.failure(problem) }
            ),
            on: router
        )
    }

    private struct Created: Encodable {
        struct Results: Encodable {
            let token: String
            let id: Int
            let username: String
            let lastUsed: Date?
            let expires: Date?
            let creator: Int?
            let created: Date
            let user: Int

            enum CodingKeys: String, CodingKey {
                case token, id, username, expires, creator, created, user
                case lastUsed = "last_used"
            }
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
        var headers = problem.headers
        // The seed's one security scheme is HTTP Basic: that is the challenge.
        if status == .unauthorized { headers[.wwwAuthenticate] = #"Basic realm="tessera""# }
        return .json(Failure(error: problem.detail), status: status, headers: headers)
    }

    private static func parse(_ call: DialectRequest) async throws -> DialectAction {
        var reader = try await call.body()
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
        // Mixpanel's usernames are descriptive: the same one twice is two accounts.
        return .createAccount(NewServiceAccount(name: username, roles: [role], projects: projects, expiresAt: expires, nameMayRepeat: true))
    }

    private static func render(_ outcome: DialectOutcome) throws -> Response {
        guard case .accountCreated(let created, _, let creator, _) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
        let results = Created.Results(
            token: created.clientSecret, id: created.account.number, username: created.account.clientID,
            lastUsed: created.account.lastUsedAt, expires: created.account.expiresAt, creator: creator?.number, created: created.account.createdAt, user: created.account.number
        )
        return .json(Created(results: results), status: .created)
    }
}
