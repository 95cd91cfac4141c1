import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// Rezolve's service-account API under `/api/v1/admin/service-account`: create (no
/// body), list, get, change permissions and delete, the tenant in `x-tenantid` (id or
/// slug). Answers `{success, message, data, timestamp}`; errors
/// `{success: false, error: {code, message, details}, timestamp}`, Rezolve's error
/// envelope with the seed's error titles as `message`.
///
/// Rezolve's permissions are scopes: setting them gives the account the catalogue
/// roles that grant exactly those scopes.
struct RezolveRoutes: Sendable {
    let api: AdminAPI
    private var tessera: Tessera { api.tessera }

    /// Roles the dialect's accounts get: the example grants `api:read` and `api:write`.
    static let defaultRole = "editor"
    static let base = "/api/v1/admin/service-account"
    /// What a tenant the caller may not administer answers, whether it exists or not.
    static let tenantRefusal = "the caller may not manage service accounts in this tenant"

    func register(on router: Router<TesseraRequestContext>) {
        let surface = DialectSurface(
            tenant: { call throws(Problem) in
                guard let reference = call.request.headers[.tenantID], !reference.isEmpty else {
                    throw Problem(.badRequest, "the x-tenantid header is required", field: "x-tenantid")
                }
                return .reference(reference)
            },
            refusals: TenantRefusals(notFound: Self.tenantRefusal, forbidden: Self.tenantRefusal),
            failure: { problem, _ in failure(problem) }
        )
        let routes = DialectRoutes(pipeline: DialectPipeline(api: api), surface: surface, router: router, prefix: Self.base)
        func route(
            _ method: HTTPRequest.Method, _ path: String, _ kind: DialectAction.Kind, message: String,
            parse: @escaping @Sendable (DialectRequest) async throws -> DialectAction
        ) {
            routes.on(method, path, kind, parse: parse, render: { outcome, call in try render(outcome, call, message: message) })
        }
        route(.post, "/create", .createAccount, message: "Service account created successfully") { _ in
            .createAccount(NewServiceAccount(roles: [Self.defaultRole]))
        }
        route(.get, "/list", .listAccounts, message: "Service accounts retrieved successfully") { _ in
            // Rezolve documents no paging: the list holds at most the first 10,000 accounts.
            .listAccounts(ServiceAccountFilter(), after: nil, limit: DialectPipeline.offsetWindow)
        }
        route(.get, "/:id", .getAccount, message: "Service account retrieved successfully") { call in .getAccount(try call.account()) }
        route(.put, "/:id/permissions", .updateAccount, message: "Service account permissions updated successfully") { call in
            let account = try call.account()
            var reader = try await call.body()
            guard let permissions = try reader.stringArray("permissions") else {
                throw Problem(.badRequest, "permissions is required: a list of permission names", field: "permissions")
            }
            try reader.finish()
            return .setPermissions(account, Set(permissions))
        }
        route(.delete, "/:id", .deleteAccount, message: "Service account deleted successfully") { call in .deleteAccount(try call.account()) }
    }

    /// The envelope; `data` is always present (`null` after a delete).
    private struct Envelope<Payload: Encodable>: Encodable {
        let success = true
        let message: String
        @Nullable var data: Payload?
        let timestamp: String
    }

    private struct Failure: Encodable {
        struct Detail: Encodable {
            let code: String
            let message: String
            let details: String
        }

        let success = false
        let error: Detail
        let timestamp: String
    }

    private struct Account: Encodable {
        struct Person: Encodable {
            let id: String
            let name: String
            let email: String
        }

        struct TenantRef: Encodable {
            let id: String
            let name: String
        }

        let id: String
        let name: String
        let clientId: String
        /// Only in the create answer.
        let clientSecret: String?
        let type = "service_account"
        let status: String
        let permissions: [String]
        let createdAt: String
        let createdBy: Person
        let tenant: TenantRef
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    private func failure(_ status: HTTPResponse.Status, _ code: String, _ message: String, _ details: String, headers: HTTPFields = [:]) -> Response {
        .json(
            Failure(error: .init(code: code, message: message, details: details), timestamp: Self.timestamp(tessera.dependencies.now())),
            status: status, headers: headers
        )
    }

    /// The seed's statuses and titles: 401, 403 (another tenant or an unknown one
    /// alike, so tenants cannot be discovered), 404 for an account, 409 for the
    /// limit, 500; 400 for a missing tenant header or a bad body, 503 for an
    /// unavailable store.
    private func failure(_ problem: Problem) -> Response {
        switch problem.status {
        case .unauthorized:
            failure(
                .unauthorized, "UNAUTHORIZED", "Authentication failed", "Bearer token is missing, expired, or invalid",
                headers: [.wwwAuthenticate: AdminAuthentication.challenge])
        case .badRequest, .unsupportedMediaType, .contentTooLarge, .unprocessableContent:
            failure(.badRequest, "VALIDATION_ERROR", "Invalid request", problem.detail)
        case .forbidden:
            failure(.forbidden, "FORBIDDEN", "Insufficient permissions", problem.detail)
        case .notFound where problem.detail == Self.tenantRefusal:
            failure(.forbidden, "FORBIDDEN", "Insufficient permissions", problem.detail)
        case .notFound:
            failure(.notFound, "SERVICE_ACCOUNT_NOT_FOUND", "Service account not found", problem.detail)
        case .conflict:
            failure(.conflict, "CONFLICT", "Limit reached", problem.detail)
        case .serviceUnavailable:
            failure(.serviceUnavailable, "SERVICE_UNAVAILABLE", "Service unavailable", problem.detail, headers: [.retryAfter: "1"])
        default:
            failure(.internalServerError, "INTERNAL_ERROR", "Server error", "unexpected server-side error")
        }
    }

    private func render(_ outcome: DialectOutcome, _ call: DialectRequest, message: String) throws -> Response {
        let tenant = try call.resolvedTenant
        let now = Self.timestamp(tessera.dependencies.now())
        func person(_ id: String, _ creator: ServiceAccount?) -> Account.Person {
            let name = creator?.name ?? id
            return .init(id: id, name: name, email: ServiceAccountEmail.of(name: name, tenantSlug: tenant.slug))
        }
        func account(_ described: DescribedAccount, secret: String? = nil) -> Account {
            let account = described.account
            return Account(
                id: "sa-" + account.id.lowercased, name: account.name, clientId: account.clientID, clientSecret: secret,
                status: account.status.rawValue, permissions: described.permissions.sorted(),
                createdAt: Self.timestamp(account.createdAt), createdBy: person(account.createdBy ?? "", described.creator),
                tenant: .init(id: tenant.id.lowercased, name: tenant.name)
            )
        }
        switch outcome {
        case .accountCreated(let created, let permissions, let creator, _):
            // `createdBy` is the caller, as the account records it.
            let body = account(DescribedAccount(account: created.account, permissions: permissions, creator: creator), secret: created.clientSecret)
            return .json(Envelope(message: message, data: body, timestamp: now))
        case .accounts(let items, _):
            return .json(Envelope(message: message, data: items.map { account($0) }, timestamp: now))
        case .account(let described):
            return .json(Envelope(message: message, data: account(described), timestamp: now))
        case .accountDeleted:
            return .json(Envelope<Account>(message: message, data: nil, timestamp: now))
        default:
            throw Problem(.internalServerError, "unexpected outcome")
        }
    }
}

/// The derived email of a service account: `<name>@<tenant>.serviceaccount.tessera`.
enum ServiceAccountEmail {
    static func of(name: String, tenantSlug: String) -> String {
        let local = name.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? String($0) : "-" }.joined()
        return "\(local)@\(tenantSlug).serviceaccount.tessera"
    }
}
