import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// How a seed API's caller may prove who it is. An access token of this issuer is
/// always accepted as `Authorization: Bearer`; a dialect may accept more.
struct DialectCredentials: Sendable {
    /// `Authorization: Basic <client_id:secret>`, checked as at the token endpoint.
    var basic = false
    /// A header that carries the access token itself (Ctrl Hub's `X-Session-Token`).
    var sessionHeader: HTTPField.Name?
    /// A cookie that carries the access token (Ctrl Hub's `ctrl_hub_session`).
    var sessionCookie: String?

    static let bearer = DialectCredentials()
    static let bearerOrBasic = DialectCredentials(basic: true)
}

/// Where an operation's tenant comes from.
enum TenantLocator: Sendable {
    /// A tenant's id or slug, as the native API takes it.
    case reference(String)
    /// A tenant's integer number.
    case number(Int)
    /// The caller's own tenant.
    case callers
}

/// What a refused tenant answers: one that does not exist and one the caller may
/// not see answer alike, so tenants cannot be discovered.
struct TenantRefusals: Sendable {
    var notFound = "tenant not found"
    var forbidden = "the access token lacks the scope \(TesseraScope.admin)"
}

/// What a dialect operation asks the core to do. The pipeline runs it through the
/// use cases and writes its audit event; a dialect never calls either itself.
enum DialectAction: Sendable {
    case createAccount(NewServiceAccount)
    case createSecret(for: AccountReference, NewClientSecret)

    /// The kind of action, which a route declares before its request is read.
    enum Kind: Sendable {
        case createAccount
        case createSecret

        /// The audit event's action and resource type: one per kind, so no route can
        /// write a change without it.
        var audit: AdminAPI.Audit {
            switch self {
            case .createAccount: AdminAPI.Audit(action: "service_account.create", resource: "service_account")
            case .createSecret: AdminAPI.Audit(action: "secret.create", resource: "secret")
            }
        }
    }

    var kind: Kind {
        switch self {
        case .createAccount: .createAccount
        case .createSecret: .createSecret
        }
    }
}

/// What the core did, with what a dialect's answer shows beside it.
enum DialectOutcome: Sendable {
    /// A new account with its first secret; `permissions` are the scopes its roles
    /// grant, `creator` the calling account and `creatorTenant` that account's tenant.
    case accountCreated(CreatedServiceAccount, permissions: Set<String>, creator: ServiceAccount?, creatorTenant: Tenant?)
    case secretCreated(CreatedClientSecret, account: ServiceAccount)

    /// The resource the audit event names.
    var resourceID: String {
        switch self {
        case .accountCreated(let created, _, _, _): created.account.id.uuidString.lowercased()
        case .secretCreated(let created, _): created.secret.id.uuidString.lowercased()
        }
    }
}

/// A dialect request as it passes through the pipeline: what the dialect reads,
/// and what the pipeline found out so far.
struct DialectRequest: Sendable {
    let request: Request
    let parameters: Parameters
    /// Set once the caller is authenticated.
    fileprivate(set) var principal: Principal?
    /// Set once the tenant is resolved and the caller may administer it.
    fileprivate(set) var tenant: Tenant?

    /// The JSON body as a reader (one of `mediaTypes`, at most 64 KiB, one object).
    func body(accepting mediaTypes: Set<String> = ["application/json"]) async throws -> JSONObjectReader {
        try await JSONBody.read(request, accepting: mediaTypes)
    }

    /// The tenant, once resolved (the parse and render steps run after it).
    var resolvedTenant: Tenant {
        get throws(Problem) {
            guard let tenant else { throw Problem(.internalServerError, "the tenant was not resolved") }
            return tenant
        }
    }
}

/// One operation of a seed API. It declares only what differs from the native
/// API: its route, how its caller authenticates, where its tenant comes from, how
/// its request reads and how its answers and errors look. ``DialectPipeline``
/// runs the rest in one order for every dialect: authenticate, resolve the tenant
/// and the caller's right to administer it, read the request, run the action
/// through the use cases, write the audit event (refusals of an authenticated
/// caller included), render.
struct DialectRoute: Sendable {
    var method: HTTPRequest.Method
    var path: String
    /// The action this route performs; its audit event follows from it.
    var kind: DialectAction.Kind
    var credentials: DialectCredentials = .bearer
    /// Runs before authentication: header checks that every answer depends on.
    var precheck: @Sendable (DialectRequest) throws(Problem) -> Void = { _ throws(Problem) in }
    var tenant: @Sendable (DialectRequest) throws(Problem) -> TenantLocator
    var refusals = TenantRefusals()
    /// Reads the request into the action.
    var parse: @Sendable (DialectRequest) async throws -> DialectAction
    /// What a domain refusal of the action answers (a field path, a message in the
    /// dialect's words); by default the problem the native API answers.
    var domainError: @Sendable (DomainError, DialectAction) -> Problem = { error, _ in Problem(error) }
    var render: @Sendable (DialectOutcome, DialectRequest) throws -> Response
    /// Every error, in the dialect's own shape and statuses.
    var failure: @Sendable (Problem, DialectRequest) -> Response
}

/// Runs ``DialectRoute``s over the admin API's authentication, use cases and audit log.
struct DialectPipeline: Sendable {
    let api: AdminAPI
    private var tessera: Tessera { api.tessera }

    func register(_ route: DialectRoute, on router: Router<TesseraRequestContext>) {
        router.on(RouterPath(route.path), method: route.method) { request, context in
            await run(route, request, context)
        }
    }

    func run(_ route: DialectRoute, _ request: Request, _ context: TesseraRequestContext) async -> Response {
        var call = DialectRequest(request: request, parameters: context.parameters)
        do {
            try route.precheck(call)
            let principal = try await authenticate(route.credentials, request, context)
            call.principal = principal
            call.tenant = try await api.authentication.tenant(try route.tenant(call), for: principal, refusals: route.refusals)
            let action = try await route.parse(call)
            guard action.kind == route.kind else {
                throw Problem(.internalServerError, "the route read another action than it declares")
            }
            let outcome: DialectOutcome
            do {
                outcome = try await perform(action, in: try call.resolvedTenant, by: principal)
            } catch let error as DomainError {
                throw route.domainError(error, action)
            }
            let response = try route.render(outcome, call)
            await audit(route.kind, call, resourceID: outcome.resourceID, status: response.status, context)
            return response
        } catch {
            let problem = Problem(error)
            if problem.status == .internalServerError {
                context.logger.error("dialect request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            }
            let response = route.failure(problem, call)
            if call.principal != nil {
                await audit(route.kind, call, resourceID: nil, status: response.status, context)
            }
            return response
        }
    }

    /// The caller: an `Authorization` header first (Bearer, or Basic where allowed),
    /// else the dialect's session header, else its session cookie.
    private func authenticate(_ credentials: DialectCredentials, _ request: Request, _ context: TesseraRequestContext) async throws(Problem) -> Principal {
        if request.headers[.authorization] == nil {
            if let name = credentials.sessionHeader, let token = request.headers[name], !token.isEmpty {
                return try await api.authentication.principal(accessToken: token)
            }
            if let name = credentials.sessionCookie, let token = Self.cookie(name, in: request.headers) {
                return try await api.authentication.principal(accessToken: token)
            }
        }
        if credentials.basic {
            return try await api.authentication.principal(request, allowingBasicFrom: context.peer)
        }
        return try await api.authentication.principal(request)
    }

    /// The value of cookie `name` in the request's `Cookie` fields (RFC 6265 §5.4:
    /// `name=value` pairs separated by `; `), `nil` when absent or empty.
    static func cookie(_ name: String, in headers: HTTPFields) -> String? {
        for field in headers[values: .cookie] {
            for pair in field.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name else { continue }
                var value = parts[1].trimmingCharacters(in: .whitespaces)
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }

    private func perform(_ action: DialectAction, in tenant: Tenant, by principal: Principal) async throws -> DialectOutcome {
        switch action {
        case .createAccount(let input):
            let created = try await tessera.accounts.create(in: tenant, input, by: Caller(principal))
            // What the answer shows beside the account; the account exists whether or
            // not these reads succeed.
            let record = try? await tessera.clients.client(id: created.account.clientID, now: tessera.dependencies.now())
            let creator = try? await tessera.storage.serviceAccount(id: principal.accountID, tenantID: principal.tenantID)
            var creatorTenant: Tenant? = tenant
            if principal.tenantID != tenant.id { creatorTenant = try? await tessera.storage.tenant(id: principal.tenantID) }
            return .accountCreated(created, permissions: record?.allowedScopes ?? [], creator: creator, creatorTenant: creatorTenant)
        case .createSecret(let reference, let input):
            let account = try await tessera.accounts.get(reference, in: tenant)
            let created = try await tessera.accounts.createSecret(for: account.id, in: tenant, input, by: Caller(principal))
            return .secretCreated(created, account: account)
        }
    }

    private func audit(
        _ kind: DialectAction.Kind, _ call: DialectRequest, resourceID: String?, status: HTTPResponse.Status, _ context: TesseraRequestContext
    ) async {
        guard let principal = call.principal else { return }
        await api.record(kind.audit, tenantID: call.tenant?.id ?? principal.tenantID, by: principal, resourceID: resourceID, status: status, context)
    }
}
