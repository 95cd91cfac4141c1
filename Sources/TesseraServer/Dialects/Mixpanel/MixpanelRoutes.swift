import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// Mixpanel's service-account API under `/api/app`: create, list and retrieve, delete,
/// and project membership (add to and remove from projects, a project's members).
/// `{organizationId}` is the tenant's integer `number`, an account's id its `number`;
/// callers authenticate by HTTP Basic with a service account's `username:secret` (the
/// seed's security scheme) or a Bearer token. Answers `{results, status: "ok"}` (a
/// retrieved account bare, as Mixpanel's reference gives it) or `{error, status: "error"}`.
///
/// The `username` Mixpanel returns is the one to authenticate with, so it is the
/// account's client id; the descriptive `username` of the request becomes the
/// account's name. A project is a project membership (``ServiceAccount/ProjectMembership``)
/// whose project is the integer id as text.
struct MixpanelRoutes: Sendable {
    let api: AdminAPI

    /// Mixpanel's roles, all in Tessera's default catalogue.
    static let roles: Set<String> = ["owner", "admin", "analyst", "consumer"]
    /// The role of an account created without one: the least privileged.
    static let defaultRole = "consumer"
    /// Mixpanel's lists have no paging: at most this many accounts are listed.
    static let listLimit = 10_000
    static let accounts = "/api/app/organizations/:organization/service-accounts"

    func register(on router: Router<TesseraRequestContext>) {
        let surface = DialectSurface(
            credentials: .bearerOrBasic,
            tenant: { call throws(Problem) in
                guard let text = call.parameters.get("organization"), let number = Int(text) else {
                    throw Problem(.badRequest, "organizationId must be an integer")
                }
                return .number(number)
            },
            refusals: TenantRefusals(notFound: "organization not found", forbidden: "managing service accounts requires the owner or admin role"),
            failure: { problem, _ in Self.failure(problem) }
        )
        let routes = DialectRoutes(pipeline: DialectPipeline(api: api), surface: surface, router: router)

        routes.on(
            .post, Self.accounts, .createAccount, parse: { call in try await Self.parse(call) },
            render: { outcome, _ in
                guard case .accountCreated(let created, _, let creator, _) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                let read = Read(created.account, creator: creator, token: created.clientSecret)
                return .json(Results(results: read), status: .created)
            })
        routes.on(
            .get, Self.accounts, .listAccounts, parse: { _ in .listAccounts(ServiceAccountFilter(), after: nil, limit: Self.listLimit) },
            render: { outcome, _ in
                guard case .accounts(let items, _) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                return .json(Results(results: items.map { Read($0.account, creator: $0.creator) }))
            })
        routes.on(
            .get, Self.accounts + "/:id", .getAccount, parse: { call in .getAccount(try call.account()) },
            render: { outcome, _ in
                guard case .account(let described) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                return .json(Read(described.account, creator: described.creator))
            })
        routes.on(
            .delete, Self.accounts + "/:id", .deleteAccount, parse: { call in .deleteAccount(try call.account()) },
            render: { _, _ in
                .json(StatusOK())
            })
        routes.on(
            .post, Self.accounts + "/add-to-project", .updateAccount, parse: { call in try await Self.parseAddToProject(call) },
            render: { _, _ in
                .json(StatusOK())
            })
        routes.on(
            .post, Self.accounts + "/remove-from-project", .updateAccount, parse: { call in try await Self.parseRemoveFromProject(call) },
            render: { _, _ in
                .json(StatusOK())
            })
        // A project's members, in the caller's own organisation.
        routes.on(
            .get, "/api/app/projects/:project/service-accounts", .listAccounts, tenant: { _ throws(Problem) in .callers },
            parse: { call in
                var filter = ServiceAccountFilter()
                filter.project = try Self.project(call.parameters.get("project"))
                return .listAccounts(filter, after: nil, limit: Self.listLimit)
            },
            render: { outcome, call in
                guard case .accounts(let items, _) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                let project = try Self.project(call.parameters.get("project"))
                return .json(
                    Results(
                        results: items.map { described in
                            let role = described.account.projects.first { $0.project == project }?.role ?? Self.defaultRole
                            return ProjectMember(read: Read(described.account, creator: described.creator), role: role)
                        }))
            })
    }

    private static func project(_ text: String?) throws(Problem) -> String {
        guard let text, let id = Int(text) else { throw Problem(.notFound, "project not found") }
        return String(id)
    }

    /// `ServiceAccountRead`: `id` and `user` are the account's number, `username` its
    /// client id, `creator` the creating account's number; `token` only on create,
    /// `last_used` once it has authenticated.
    private struct Read: Encodable {
        let token: String?
        let id: Int
        let username: String
        let lastUsed: Date?
        let expires: Date?
        let creator: Int?
        let created: Date
        let user: Int

        init(_ account: ServiceAccount, creator: ServiceAccount?, token: String? = nil) {
            self.token = token
            id = account.number
            username = account.clientID
            lastUsed = account.lastUsedAt
            expires = account.expiresAt
            self.creator = creator?.number
            created = account.createdAt
            user = account.number
        }

        enum CodingKeys: String, CodingKey {
            case token, id, username, expires, creator, created, user
            case lastUsed = "last_used"
        }
    }

    private struct ProjectMember: Encodable {
        let read: Read
        let role: String
        let targetType = "individual"

        enum CodingKeys: String, CodingKey {
            case role
            case targetType = "target_type"
        }

        func encode(to encoder: any Encoder) throws {
            try read.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(role, forKey: .role)
            try container.encode(targetType, forKey: .targetType)
        }
    }

    private struct Results<Payload: Encodable>: Encodable {
        let results: Payload
        let status = "ok"
    }

    private struct StatusOK: Encodable {
        let status = "ok"
    }

    private struct Failure: Encodable {
        let error: String
        let status = "error"
    }

    /// Mixpanel documents 400, 401, 403 and 404: conflicts and unreadable bodies are
    /// its 400; throttling and an unavailable store keep their own status.
    private static func failure(_ problem: Problem) -> Response {
        let status: HTTPResponse.Status =
            switch problem.status {
            case .conflict, .contentTooLarge, .unsupportedMediaType, .unprocessableContent: .badRequest
            default: problem.status
            }
        var headers = problem.headers
        // The seed's one security scheme is HTTP Basic: that is the challenge.
        if status == .unauthorized { headers[.wwwAuthenticate] = #"Basic realm="tessera""# }
        return .json(Failure(error: problem.detail), status: status, headers: headers)
    }

    private static func role(_ value: String?, default fallback: String) throws(Problem) -> String {
        let role = value ?? fallback
        guard Self.roles.contains(role) else { throw Problem(.badRequest, "role must be one of owner, admin, analyst, consumer", field: "role") }
        return role
    }

    private static func parse(_ call: DialectRequest) async throws -> DialectAction {
        var reader = try await call.body()
        guard let username = try reader.string("username") else { throw Problem(.badRequest, "username is required", field: "username") }
        let role = try Self.role(try reader.string("role"), default: Self.defaultRole)
        let expires = try reader.date("expires")
        let projects = try reader.objects("projects") { project throws(Problem) in
            guard let id = try project.integer("id") else { throw Problem(.badRequest, "id is required", field: "id") }
            return ServiceAccount.ProjectMembership(project: String(id), role: try Self.role(try project.string("role"), default: role))
        }
        try reader.finish()
        // Mixpanel's usernames are descriptive: the same one twice is two accounts.
        return .createAccount(NewServiceAccount(name: username, roles: [role], projects: projects, expiresAt: expires, nameMayRepeat: true))
    }

    /// `{projects: [{id, role}], service_account_ids: [id]}`: each account joins each
    /// project with that role (a member already there takes the new role).
    private static func parseAddToProject(_ call: DialectRequest) async throws -> DialectAction {
        var reader = try await call.body()
        let projects = try reader.objects("projects") { project throws(Problem) in
            guard let id = try project.integer("id") else { throw Problem(.badRequest, "each project needs an integer id", field: "projects") }
            guard let role = try project.string("role") else { throw Problem(.badRequest, "each project needs a role", field: "projects") }
            return ServiceAccount.ProjectMembership(project: String(id), role: try Self.role(role, default: role))
        }
        let ids = try reader.integerArray("service_account_ids")
        try reader.finish()
        guard let projects, !projects.isEmpty else { throw Problem(.badRequest, "projects is required", field: "projects") }
        guard let ids, !ids.isEmpty else { throw Problem(.badRequest, "service_account_ids is required", field: "service_account_ids") }
        return .updateEach(ids.map { .number($0) }) { account in
            let joined = Set(projects.map(\.project))
            return ServiceAccountPatch(projects: account.projects.filter { !joined.contains($0.project) } + projects)
        }
    }

    /// `{projects: [{id, service_account_ids: [id]}]}`: each listed account leaves that project.
    private static func parseRemoveFromProject(_ call: DialectRequest) async throws -> DialectAction {
        var reader = try await call.body()
        let removals = try reader.objects("projects") { project throws(Problem) in
            guard let id = try project.integer("id") else { throw Problem(.badRequest, "each project needs an integer id", field: "projects") }
            guard let ids = try project.integerArray("service_account_ids"), !ids.isEmpty else {
                throw Problem(.badRequest, "each project needs service_account_ids", field: "projects")
            }
            return (project: String(id), accounts: ids)
        }
        try reader.finish()
        guard let removals, !removals.isEmpty else { throw Problem(.badRequest, "projects is required", field: "projects") }
        var leaving: [Int: Set<String>] = [:]
        for removal in removals {
            for id in removal.accounts { leaving[id, default: []].insert(removal.project) }
        }
        let plan = leaving
        return .updateEach(plan.keys.sorted().map { .number($0) }) { account in
            let gone = plan[account.number] ?? []
            return ServiceAccountPatch(projects: account.projects.filter { !gone.contains($0.project) })
        }
    }
}
