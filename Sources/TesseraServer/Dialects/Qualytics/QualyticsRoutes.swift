import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore
import TesseraJOSE

/// Qualytics' service-user API under `/api` (or without it, as the seed's reference
/// writes the paths), in the caller's own tenant: users (create, list with `page`
/// and `size`, get, delete, which is refused while the user holds an active token)
/// and tokens (`POST /user-tokens`: named, 30, 60, 90 or 365 days or never,
/// optionally SCIM-only, shown once; `GET /user-tokens/service`; `PUT
/// /user-tokens/{id}` `{"revoke": true}`). Administrators only. Errors are
/// FastAPI's `{"detail": …}`, validation failures 422.
///
/// The service user's id `<snake_name>@service` is the account's name (unique in
/// the tenant) and its display name the account's description. A token is an API
/// token (`tsa_…`): used as it is given, `Authorization: Bearer <token>`.
struct QualyticsRoutes: Sendable {
    let api: AdminAPI

    /// Qualytics' roles and the catalogue roles they map to.
    static let roles = ["Admin": "admin", "Manager": "manager", "Editor": "editor", "Member": "member"]
    /// The team every service user belongs to.
    static let publicTeam = "Public"
    static let userSuffix = "@service"

    /// Qualytics' user lists: `page` from 1, `size` up to this.
    static let maximumPageSize = 100

    func register(on router: Router<TesseraRequestContext>) {
        let surface = DialectSurface(
            tenant: { _ throws(Problem) in .callers },
            refusals: TenantRefusals(notFound: "the access token is invalid or expired", forbidden: "only administrators may manage service users"),
            failure: { problem, _ in Self.failure(problem) }
        )
        // `/api` is Qualytics' base path; the seed's reference writes the paths without it.
        for base in ["/api", ""] {
            let routes = DialectRoutes(pipeline: DialectPipeline(api: api), surface: surface, router: router, prefix: base)
            routes.on(
                .post, "/users", .createAccount, parse: { call in try await Self.parseUser(call) },
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
                })
            // The users list: `page`, `size`; every user here is a service user, so
            // `type=Service` lists them all and another type none.
            routes.on(
                .get, "/users", .listAccounts,
                parse: { call in
                    let (page, size) = try Self.paging(try QueryParameters(call.request))
                    return .listAccountsAt(ServiceAccountFilter(), exactName: nil, offset: (page - 1) * size, limit: size)
                },
                render: { outcome, call in
                    guard case .accountsAt(let items, let total) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                    let query = try QueryParameters(call.request)
                    let (page, size) = try Self.paging(query)
                    let tenant = try call.resolvedTenant
                    let services = query["type"].map { $0 == "Service" } ?? true
                    return .json(
                        UserPage(
                            items: services ? items.map { Self.user($0.account, tenant: tenant) } : [], total: services ? total : 0, page: page, size: size
                        ))
                })
            routes.on(
                .get, "/users/:id", .getAccount, parse: { call in .getAccount(try call.account(notFound: "service user not found")) },
                render: { outcome, call in
                    guard case .account(let described) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                    return .json(Self.user(described.account, tenant: try call.resolvedTenant))
                })
            // Deactivating a service user: refused while it holds an active token.
            routes.on(
                .delete, "/users/:id", .deleteAccount,
                parse: { call in .deleteAccount(try call.account(notFound: "service user not found"), refusingActiveAPITokens: true) },
                render: { _, _ in
                    Response(status: .noContent)
                })
            routes.on(
                .post, "/user-tokens", .createSecret(.apiToken), parse: { call in try await Self.parseToken(call) },
                domainError: { error, action in
                    guard case .createSecret(let reference, let input) = action else { return Problem(error) }
                    return switch (error.kind, reference) {
                    case (.conflict, _): Problem(.conflict, "a token named \"\(input.name)\" already exists for this service user")
                    case (.notFound, _): Problem(.notFound, "service user not found")
                    default: Problem(error)
                    }
                },
                render: { outcome, call in
                    guard case .secretCreated(let created, let account) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                    return .json(
                        Token(
                            created.secret, user: Self.user(account, tenant: try call.resolvedTenant), bearer: created.clientSecret, clientID: account.clientID)
                    )
                })
            // Every service token of the organisation, never with its value.
            routes.on(
                .get, "/user-tokens/service", .listAccounts,
                parse: { _ in
                    .listAccountsAt(ServiceAccountFilter(), exactName: nil, offset: 0, limit: DialectPipeline.offsetWindow)
                },
                render: { outcome, call in
                    guard case .accountsAt(let items, _) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                    let tenant = try call.resolvedTenant
                    return .json(
                        items.flatMap { described in
                            described.apiTokens.map { Token($0, user: Self.user(described.account, tenant: tenant)) }
                        })
                })
            // `{"revoke": true}` revokes a token at once (it stays listed, inactive).
            routes.on(
                .put, "/user-tokens/:id", .updateSecret(.apiToken),
                parse: { call in
                    guard let id = call.parameters.get("id").flatMap(UUID.init(uuidString:)) else { throw Problem(.notFound, "token not found") }
                    var reader = try await call.body()
                    guard let revoke = try reader.bool("revoke") else { throw Problem(.badRequest, "revoke is required", field: "revoke") }
                    try reader.finish()
                    return .updateSecret(.holdingSecret(id), secret: id, .apiToken, enabled: !revoke)
                }, domainError: { error, _ in error.kind == .notFound ? Problem(.notFound, "token not found") : Problem(error) },
                render: { outcome, call in
                    guard case .secretUpdated(let secret, let account) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                    return .json(Token(secret, user: Self.user(account, tenant: try call.resolvedTenant)))
                })
        }
    }

    /// `page` (from 1, default 1) and `size` (1–100, default 50).
    private static func paging(_ query: QueryParameters) throws(Problem) -> (page: Int, size: Int) {
        var page = 1, size = 50
        if let text = query["page"] {
            guard let value = Int(text), value >= 1, value <= DialectPipeline.offsetWindow else {
                throw Problem(.badRequest, "page must be a positive integer", field: "page")
            }
            page = value
        }
        if let text = query["size"] {
            guard let value = Int(text), (1...Self.maximumPageSize).contains(value) else {
                throw Problem(.badRequest, "size must be an integer from 1 to \(Self.maximumPageSize)", field: "size")
            }
            size = value
        }
        return (page, size)
    }

    private struct UserPage: Encodable {
        let items: [User]
        let total: Int
        let page: Int
        let size: Int
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

    /// A token as Qualytics answers it: `bearer_token` only when it is made.
    /// Its `id` is Tessera's credential id (a UUID string; Qualytics' own are integers).
    private struct Token: Encodable {
        let id: String
        let created: Date
        let name: String
        let active: Bool
        /// `null` when it never expires.
        @Nullable var expiration: Date?
        @Nullable var lastUsed: Date?
        let scimEndpointsOnly: Bool
        let bearerToken: String?
        let clientID: String?
        let user: User

        init(_ secret: ClientSecret, user: User, bearer: String? = nil, clientID: String? = nil) {
            id = secret.id.lowercased
            created = secret.createdAt
            name = secret.name
            active = secret.enabled
            expiration = secret.expiresAt
            lastUsed = secret.lastUsedAt
            scimEndpointsOnly = secret.scopes == [TesseraScope.scim]
            bearerToken = bearer
            self.clientID = clientID
            self.user = user
        }

        enum CodingKeys: String, CodingKey {
            case id, created, name, active, expiration, user
            case lastUsed = "last_used"
            case scimEndpointsOnly = "scim_endpoints_only"
            case bearerToken = "bearer_token"
            case clientID = "client_id"
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
            email: userID,
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
        case .preconditionFailed:
            // A change the state forbids (a service user with active tokens): Qualytics' 400.
            return .json(Failure(detail: problem.detail), status: .badRequest, headers: problem.headers)
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
        return .createAccount(
            NewServiceAccount(
                name: userName + Self.userSuffix, description: name, roles: [role],
                groups: [Self.publicTeam] + teams.filter { $0 != Self.publicTeam },
                // A service user's credentials are the tokens made for it by a call of their
                // own; a first secret would be one nobody is ever shown.
                issuesSecret: false
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
        return .createSecret(for: account, NewClientSecret(kind: .apiToken, name: name, expiresInDays: days, scopes: scimOnly ? [TesseraScope.scim] : nil))
    }
}
