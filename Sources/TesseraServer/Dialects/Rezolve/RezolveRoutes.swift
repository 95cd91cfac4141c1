import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// Rezolve (`seeds/000_…`): create a service account with no body, the tenant in
/// `x-tenantid` (id or slug), answers in `{success, message, data|error, timestamp}`.
struct RezolveRoutes: Sendable {
    let api: AdminAPI
    private var tessera: Tessera { api.tessera }

    /// Roles the dialect's accounts get: the example grants `api:read` and `api:write`.
    static let defaultRole = "editor"

    func register(on router: Router<TesseraRequestContext>) {
        router.post("/api/v1/admin/service-account/create") { request, context in await create(request, context) }
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

    func create(_ request: Request, _ context: TesseraRequestContext) async -> Response {
        let principal: Principal
        do {
            principal = try await api.authentication.principal(request)
        } catch {
            return failure(.unauthorized, "Authentication failed", "Bearer token is missing, expired, or invalid", headers: [.wwwAuthenticate: AdminAuthentication.challenge])
        }
        guard let reference = request.headers[.tenantID], !reference.isEmpty else {
            return failure(.badRequest, "Missing tenant", "the x-tenantid header is required")
        }
        do {
            guard let tenant = try await tessera.tenants.find(reference), principal.mayAdminister(tenantID: tenant.id) else {
                // An unknown tenant and another tenant's answer alike, so tenants cannot be discovered.
                return failure(.forbidden, "Insufficient permissions", "the caller may not create service accounts in this tenant")
            }
            let created = try await tessera.accounts.create(in: tenant, NewServiceAccount(roles: [Self.defaultRole]), by: Caller(principal))
            await api.recordAccountCreated(created.account, by: principal, status: .ok, context)
            let record = try await tessera.clients.client(id: created.account.clientID, now: tessera.dependencies.now())
            let creator = try await tessera.storage.serviceAccount(id: principal.accountID, tenantID: principal.tenantID)
            let creatorTenant = try await tessera.storage.tenant(id: principal.tenantID)
            let account = Account(
                id: "sa-" + created.account.id.uuidString.lowercased(), name: created.account.name, clientId: created.account.clientID,
                clientSecret: created.clientSecret, status: created.account.status.rawValue,
                permissions: (record?.allowedScopes ?? []).sorted(), createdAt: Self.timestamp(created.account.createdAt),
                createdBy: .init(
                    id: principal.accountID.uuidString.lowercased(), name: creator?.name ?? principal.clientID,
                    email: ServiceAccountEmail.of(name: creator?.name ?? principal.clientID, tenantSlug: creatorTenant?.slug ?? "tessera")
                ),
                tenant: .init(id: tenant.id.uuidString.lowercased(), name: tenant.name)
            )
            return .json(Envelope(success: true, message: "Service account created successfully", data: account, error: nil,
                                  timestamp: Self.timestamp(tessera.dependencies.now())))
        } catch let error as DomainError where error.kind == .limitReached {
            return failure(.conflict, "Limit reached", error.message)
        } catch let error as DomainError where error.kind == .forbidden {
            return failure(.forbidden, "Insufficient permissions", error.message)
        } catch let error as DomainError where error.kind == .unavailable {
            return failure(.serviceUnavailable, "Service unavailable", error.message, headers: [.retryAfter: "1"])
        } catch {
            return failure(.internalServerError, "Server error", "unexpected server-side error")
        }
    }
}

/// The derived email of a service account (DESIGN §4): `<name>@<tenant>.serviceaccount.tessera`.
enum ServiceAccountEmail {
    static func of(name: String, tenantSlug: String) -> String {
        let local = name.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? String($0) : "-" }.joined()
        return "\(local)@\(tenantSlug).serviceaccount.tessera"
    }
}
