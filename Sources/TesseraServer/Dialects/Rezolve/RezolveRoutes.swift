import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// Rezolve's service-account API: create a service account with no body, the tenant in
/// `x-tenantid` (id or slug), answers in `{success, message, data|error, timestamp}`.
struct RezolveRoutes: Sendable {
    let api: AdminAPI
    private var tessera: Tessera { api.tessera }

    /// Roles the dialect's accounts get: the example grants `api:read` and `api:write`.
    static let defaultRole = "editor"

    func register(on router: Router<TesseraRequestContext>) {
        DialectPipeline(api: api).register(
            DialectRoute(
                method: .post, path: "/api/v1/admin/service-account/create", kind: .createAccount,
                tenant: { call throws(Problem) in
                    guard let reference = call.request.headers[.tenantID], !reference.isEmpty else {
                        throw Problem(.badRequest, "the x-tenantid header is required")
                    }
                    return .reference(reference)
                },
                refusals: TenantRefusals(
                    notFound: "the caller may not create service accounts in this tenant",
                    forbidden: "the caller may not create service accounts in this tenant"
                ),
                parse: { _ in .createAccount(NewServiceAccount(roles: [Self.defaultRole])) },
                render: { outcome, call in try render(outcome, call) },
                failure: { problem, _ in failure(problem) }
            ),
            on: router
        )
    }

    private struct Envelope<Payload: Encodable>: Encodable {
        let success: Bool
        let message: String
        let data: Payload?
        let error: String?
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
        let clientSecret: String
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

    private func failure(_ status: HTTPResponse.Status, _ message: String, _ error: String, headers: HTTPFields = [:]) -> Response {
        .json(
            Envelope<Account>(success: false, message: message, data: nil, error: error, timestamp: Self.timestamp(tessera.dependencies.now())),
            status: status, headers: headers
        )
    }

    /// The seed's statuses: 401, 403 (another tenant or an unknown one alike, so
    /// tenants cannot be discovered), 409 for the limit, 500; a missing tenant
    /// header 400, an unavailable store 503.
    private func failure(_ problem: Problem) -> Response {
        switch problem.status {
        case .unauthorized:
            failure(.unauthorized, "Authentication failed", "Bearer token is missing, expired, or invalid", headers: [.wwwAuthenticate: AdminAuthentication.challenge])
        case .badRequest:
            failure(.badRequest, "Missing tenant", problem.detail)
        case .forbidden, .notFound:
            failure(.forbidden, "Insufficient permissions", problem.detail)
        case .conflict:
            failure(.conflict, "Limit reached", problem.detail)
        case .serviceUnavailable:
            failure(.serviceUnavailable, "Service unavailable", problem.detail, headers: [.retryAfter: "1"])
        default:
            failure(.internalServerError, "Server error", "unexpected server-side error")
        }
    }

    private func render(_ outcome: DialectOutcome, _ call: DialectRequest) throws -> Response {
        guard case .accountCreated(let created, let permissions, let creator, let creatorTenant) = outcome, let principal = call.principal else {
            throw Problem(.internalServerError, "unexpected outcome")
        }
        let tenant = try call.resolvedTenant
        let creatorName = creator?.name ?? principal.clientID
        let account = Account(
            id: "sa-" + created.account.id.uuidString.lowercased(), name: created.account.name, clientId: created.account.clientID,
            clientSecret: created.clientSecret, status: created.account.status.rawValue,
            permissions: permissions.sorted(), createdAt: Self.timestamp(created.account.createdAt),
            createdBy: .init(
                id: principal.accountID.uuidString.lowercased(), name: creatorName,
                email: ServiceAccountEmail.of(name: creatorName, tenantSlug: creatorTenant?.slug ?? "tessera")
            ),
            tenant: .init(id: tenant.id.uuidString.lowercased(), name: tenant.name)
        )
        return .json(Envelope(success: true, message: "Service account created successfully", data: account, error: nil,
                              timestamp: Self.timestamp(tessera.dependencies.now())))
    }
}

/// The derived email of a service account: `<name>@<tenant>.serviceaccount.tessera`.
enum ServiceAccountEmail {
    static func of(name: String, tenantSlug: String) -> String {
        let local = name.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? String($0) : "-" }.joined()
        return "\(local)@\(tenantSlug).serviceaccount.tessera"
    }
}
