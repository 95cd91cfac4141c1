import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore
import TesseraJOSE

/// Qualytics' service-user API: `POST /api/users` (or `/users`) creates a service user
/// in the caller's own tenant, `POST /api/user-tokens` (or `/user-tokens`) a named token for it (30, 60, 90
/// or 365 days or never; optionally SCIM-only), shown once. Administrators only.
/// Errors are FastAPI's `{"detail": …}`, validation failures 422.
///
/// The service user's id `<snake_name>@service` is the account's name (unique in
/// the tenant) and its display name the account's description. A "token" is a
/// client secret: it is exchanged, with the `client_id` returned beside it, for
/// access tokens at `/oauth2/token`.
struct QualyticsRoutes: Sendable {
    let api: AdminAPI

    /// Qualytics' roles and the catalogue roles they map to.
    static let roles = ["Admin": "admin", "Manager": "manager", "Editor": "editor", "Member": "member"]
    /// The team every service user belongs to.
    static let publicTeam = "Public"
    static let userSuffix = "@service"

    func register(on router: Router<TesseraRequestContext>) {
        let pipeline = DialectPipeline(api: api)
        let refusals = TenantRefusals(notFound: "the access token is invalid or expired", forbidden: "only administrators may manage service users")
        // `/api` is Qualytics' base path; the seed's reference writes the paths without it.
        for base in ["/api", ""] {
            pipeline.register(
                DialectRoute(
                    method: .post, path: base + "/users", kind: .createAccount, tenant: { _ throws(Problem) in .callers }, refusals: refusals,
                    parse: { call in try await Self.parseUser(call) },
                    domainError: { error, action in
                        guard case .createAccount(let input) = action else { return Problem(error) }
                        return switch error.kind {
                        case .conflict: Problem(.conflict, "a service user \(input.name ?? "") already exists")
                        case .invalidInput(field: "description"):
                            Problem(.badRequest, "name must be at most \(ServiceAccountService.maximumDescriptionLength) characters", field: "name")
                        default: Problem(error)
                        }
                    },
                    render: { outcome, call in
                        guard case .accountCreated(let created, _, _, _) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                        return .json(Self.user(created.account, tenant: try call.resolvedTenant))
                    },
                    failure: { problem, _ in Self.failure(problem) }
                ),
                on: router
            )
            pipeline.register(
                DialectRoute(
                    method: .post, path: base + "/user-tokens", kind: .createSecret, tenant: { _ throws(Problem) in .callers }, refusals: refusals,
                    parse: { call in try await Self.parseToken(call) },
                    domainError: { error, action in
                        guard case .createSecret(let reference, let input) = action else { return Problem(error) }
                        return switch (error.kind, reference) {
                        case (.conflict, _): Problem(.conflict, "a token named \"\(input.name)\" already exists for this service user")
                        case (.notFound, .name): Problem(.notFound, "service user not found")
                        default: Problem(error)
                        }
                    },
                    render: { outcome, call in try Self.renderToken(outcome, call) },
                    failure: { problem, _ in Self.failure(problem) }
                ),
                on: router
            )
        }
    }

    struct User: Encodable {
        let id: Int
        let userID: String
        let userName: String
        let email: String
        let name: String
        let userType = "Service"
        let role: String
        let teams: [String]

        enum CodingKeys: String, CodingKey {
            case id, email, name, role, teams
            case userID = "user_id"
            case userName = "user_name"
            case userType = "user_type"
        }
    }

    private struct Token: Encodable {
        let id: String
        let created: Date
        let name: String
        let active: Bool
        let expiration: Date?
        let lastUsed: Date?
        let scimEndpointsOnly: Bool
        let bearerToken: String
        let clientID: String
        let user: User

        enum CodingKeys: String, CodingKey {
            case id, created, name, active, expiration, user
            case lastUsed = "last_used"
            case scimEndpointsOnly = "scim_endpoints_only"
            case bearerToken = "bearer_token"
            case clientID = "client_id"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(created, forKey: .created)
            try container.encode(name, forKey: .name)
            try container.encode(active, forKey: .active)
            try container.encode(expiration, forKey: .expiration) // explicit null: never expires
            try container.encode(lastUsed, forKey: .lastUsed)
            try container.encode(scimEndpointsOnly, forKey: .scimEndpointsOnly)
            try container.encode(bearerToken, forKey: .bearerToken)
            try container.encode(clientID, forKey: .clientID)
            try container.encode(user, forKey: .user)
        }
    }

    private struct Failure: Encodable {
        let detail: String
    }

    /// FastAPI's validation error: `detail` is a list of `{loc, msg, type}`.
    private struct ValidationFailure: Encodable {
        struct Item: Encodable {
            let loc: [String]
            let msg: String
            let type: String
        }

        let detail: [Item]
    }

    /// `api_access` for "API Access": lower case, runs of anything but letters and
    /// digits folded to one `_`, none at the ends.
    static func snakeCase(_ name: String) -> String {
        var result = ""
        for character in name.lowercased() {
            if character.isLetter || character.isNumber {
                result.append(character)
            } else if !result.isEmpty, result.last != "_" {
                result.append("_")
            }
        }
        while result.last == "_" { result.removeLast() }
        return result
    }

    /// The service-user view of any account, also one created through another API.
    static func user(_ account: ServiceAccount, tenant: Tenant) -> User {
        let isServiceUser = account.name.hasSuffix(userSuffix)
        let userID = isServiceUser ? account.name : snakeCase(account.name) + userSuffix
        let role = account.roles.lazy.compactMap { role in roles.first { $0.value == role }?.key }.first ?? account.roles.first ?? "Member"
        return User(
            id: account.number, userID: userID, userName: userID,
            email: ServiceAccountEmail.of(name: String(userID.dropLast(userSuffix.count)), tenantSlug: tenant.slug),
            name: isServiceUser ? account.description ?? account.name : account.name, role: role,
            teams: [publicTeam] + account.groups.filter { $0 != publicTeam }
        )
    }

    /// FastAPI's answers: 422 with a list of `{loc, msg, type}` for anything wrong
    /// with the body (`loc` is `["body", member]`, or `["body"]` for the body
    /// as a whole), `{"detail": "…"}` for every other error.
    private static func failure(_ problem: Problem) -> Response {
        switch problem.status {
        case .badRequest, .unsupportedMediaType, .unprocessableContent:
            let location = ["body"] + (problem.field.map { $0.split(separator: "/").map(String.init) } ?? [])
            let item = ValidationFailure.Item(loc: location, msg: problem.detail, type: "value_error")
            return .json(ValidationFailure(detail: [item]), status: .unprocessableContent, headers: problem.headers)
        default:
            return .json(Failure(detail: problem.detail), status: problem.status, headers: problem.headers)
        }
    }

    private static func parseUser(_ call: DialectRequest) async throws -> DialectAction {
        var reader = try await call.body()
        guard let name = try reader.string("name") else { throw Problem(.badRequest, "name is required", field: "name") }
        guard let roleName = try reader.string("role") else { throw Problem(.badRequest, "role is required", field: "role") }
        guard let role = Self.roles[roleName] else {
            throw Problem(.badRequest, "role must be one of Admin, Manager, Editor, Member", field: "role")
        }
        let teams = try reader.stringArray("teams") ?? []
        try reader.finish()
        let userName = Self.snakeCase(name)
        guard !userName.isEmpty else { throw Problem(.badRequest, "name must contain a letter or digit", field: "name") }
        return .createAccount(NewServiceAccount(
            name: userName + Self.userSuffix, description: name, roles: [role],
            groups: [Self.publicTeam] + teams.filter { $0 != Self.publicTeam }
        ))
    }

    private static func parseToken(_ call: DialectRequest) async throws -> DialectAction {
        var reader = try await call.body()
        guard let name = try reader.string("name") else { throw Problem(.badRequest, "name is required", field: "name") }
        let days = try reader.nullable("expires_in_days") { reader throws(Problem) in try reader.integer("expires_in_days") } ?? nil
        let scimOnly = try reader.bool("scim_endpoints_only") ?? false
        let account: AccountReference
        let userID = try reader.json("user_id")
        if let number = userID?.int64.flatMap({ Int(exactly: $0) }) {
            account = .number(number)
        } else if let name = userID?.string, name.hasSuffix(Self.userSuffix) {
            account = .name(name)
        } else if userID == nil {
            throw Problem(.badRequest, "user_id is required", field: "user_id")
        } else {
            throw Problem(.badRequest, "user_id must be the service user's integer id or its <name>@service id", field: "user_id")
        }
        try reader.finish()
        if let days, !ServiceAccountService.allowedSecretLifetimes.contains(days) {
            throw Problem(.badRequest, "expires_in_days must be 30, 60, 90, 365 or null (never)", field: "expires_in_days")
        }
        return .createSecret(for: account, NewClientSecret(name: name, expiresInDays: days, scopes: scimOnly ? [TesseraScope.scim] : nil))
    }

    private static func renderToken(_ outcome: DialectOutcome, _ call: DialectRequest) throws -> Response {
        guard case .secretCreated(let created, let account) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
        let secret = created.secret
        return .json(Token(
            id: secret.id.uuidString.lowercased(), created: secret.createdAt, name: secret.name, active: secret.enabled,
            expiration: secret.expiresAt, lastUsed: secret.lastUsedAt, scimEndpointsOnly: secret.scopes == [TesseraScope.scim],
            bearerToken: created.clientSecret, clientID: account.clientID, user: Self.user(account, tenant: try call.resolvedTenant)
        ))
    }
}
