import Foundation
import Hummingbird
import TesseraCore
import TesseraJOSE

/// The native admin API under `/v1` (docs/ARCHITECTURE.md §5): authentication, tenant isolation,
/// problem-details errors and the audit log in one place, and a handler per route.
struct AdminAPI: Sendable {
    static let maximumBodySize = 64 * 1024
    static let defaultPageSize = 50
    static let maximumPageSize = 200

    let tessera: Tessera
    let authentication: AdminAuthentication
    /// How this server rotates keys (their algorithm and publication lead); `nil`
    /// rotates with the active key's algorithm and `jwksMaxAge` + 10 s.
    var keyPolicy: KeyPolicy? = nil
    var jwksMaxAge: Int = 300

    /// What a route handler gets: the verified principal, the tenant it acts in
    /// (for routes under `/v1/tenants/{tenant}`), and the request.
    struct Call {
        let request: Request
        let parameters: Parameters
        let principal: Principal
        /// Set for routes under `/v1/tenants/{tenant}`, once the caller may act in it.
        let resolvedTenant: Tenant?
        let accounts: ServiceAccountService
        var caller: Caller { Caller(principal) }

        /// The tenant the route acts in; only routes under `/v1/tenants/{tenant}` have one.
        var tenant: Tenant {
            get throws(Problem) {
                guard let resolvedTenant else { throw Problem(.internalServerError, "this route acts in no tenant") }
                return resolvedTenant
            }
        }

        func parameter(_ name: String) throws(Problem) -> String {
            guard let value = parameters.get(name) else { throw Problem.notFound() }
            return value
        }

        /// A UUID path parameter; anything else is a 404, as an unknown id is.
        func uuid(_ name: String, _ what: String) throws(Problem) -> UUID {
            guard let id = UUID(uuidString: try parameter(name)) else { throw Problem.notFound("\(what) not found") }
            return id
        }

        /// The id of the account the `{id}` path segment names in any of its faces
        /// (``AccountReference``: the UUID, `sa-<uuid>`, the 26-character form, the
        /// number, `<name>@service`); anything else is a 404, as an unknown id is.
        func accountID() async throws -> UUID {
            guard let reference = AccountReference(try parameter("id")) else { throw Problem.notFound("service account not found") }
            if case .id(let id) = reference { return id }
            return try await accounts.get(reference, in: tenant).id
        }

        /// A query parameter, percent-decoded in name and value (``QueryParameters``).
        func query(_ name: String) throws(Problem) -> String? {
            try QueryParameters(request)[name]
        }

        /// `limit` (1–200, default 50) and the decoded `cursor`.
        func paging() throws(Problem) -> (limit: Int, cursor: Int64?) {
            var limit = AdminAPI.defaultPageSize
            if let text = try query("limit") {
                guard let value = Int(text), (1...AdminAPI.maximumPageSize).contains(value) else {
                    throw Problem(.badRequest, "limit must be an integer from 1 to \(AdminAPI.maximumPageSize)", field: "limit")
                }
                limit = value
            }
            var cursor: Int64?
            if let text = try query("cursor") {
                guard let value = Cursor.decode(text) else { throw Problem(.badRequest, "cursor is not one this API issued", field: "cursor") }
                cursor = value
            }
            return (limit, cursor)
        }

        /// The JSON body as a reader; refuses non-JSON content types and oversize bodies.
        func body() async throws -> JSONObjectReader {
            try await JSONBody.read(request, accepting: ["application/json"])
        }
    }

    /// What the audit log records of a route: its action and resource type.
    struct Audit {
        let action: String
        let resource: String
        /// The path parameter naming the resource, when the route has one.
        var idParameter: String?
    }

    enum Scope {
        /// Under `/v1/tenants/{tenant}`: the tenant's admins and super admins.
        case tenant
        /// Super admins only (tenant management).
        case superAdmin
        /// Any valid token (whoami).
        case anyone
    }

    /// Runs a handler: authenticates, resolves and checks the tenant, renders
    /// errors as problems, and records mutating calls in the audit log.
    func handle(
        _ request: Request, _ context: TesseraRequestContext, scope: Scope, audit: Audit? = nil,
        _ body: (Call) async throws -> (Response, resourceID: String?)
    ) async -> Response {
        let principal: Principal
        do {
            principal = try await authentication.principal(request, context: context)
        } catch {
            return error.response
        }
        var tenant: Tenant?
        var response: Response
        var resourceID = audit?.idParameter.flatMap { context.parameters.get($0) }
        // An account named by another face of its id is recorded under its UUID.
        if audit?.idParameter == "id", let given = resourceID, case .id(let id)? = AccountReference(given) {
            resourceID = id.lowercased
        }
        do {
            switch scope {
            case .tenant:
                // A request that changes nothing finds its tenant in the cache; one that
                // changes something reads the store, so it decides against the tenant
                // as stored (its account limit, its token lifetime).
                let readOnly = request.method == .get || request.method == .head
                tenant = try await authentication.tenant(try context.parameters.require("tenant"), for: principal, cached: readOnly)
            case .superAdmin:
                guard principal.isSuperAdmin else {
                    throw Problem(
                        .forbidden, "the access token lacks the scope \(TesseraScope.superAdmin)",
                        headers: [.wwwAuthenticate: AdminAuthentication.challenge + #", error="insufficient_scope", scope="\#(TesseraScope.superAdmin)""#]
                    )
                }
            case .anyone:
                break
            }
            let call = Call(request: request, parameters: context.parameters, principal: principal, resolvedTenant: tenant, accounts: tessera.accounts)
            let result = try await body(call)
            response = result.0
            resourceID = result.resourceID ?? resourceID
        } catch {
            let problem = Problem(error)
            if problem.status == .internalServerError {
                context.logger.error("admin request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            }
            response = problem.response
        }
        if let audit {
            await record(audit, tenantID: tenant?.id ?? principal.tenantID, by: principal, resourceID: resourceID, status: response.status, context)
        }
        return response
    }

    /// Writes one audit event; the native routes and the seed dialects share it.
    func record(
        _ audit: Audit, tenantID: UUID, by principal: Principal, resourceID: String?, status: HTTPResponse.Status,
        _ context: some RequestContext
    ) async {
        let event = AuditEvent(
            tenantID: tenantID, actor: principal.accountID.lowercased,
            action: audit.action, resourceType: audit.resource, resourceID: resourceID,
            outcome: status.code < 400 ? .success : .failure, status: status.code,
            requestID: context.logger[metadataKey: "request_id"].map { "\($0)" }, at: tessera.dependencies.now()
        )
        do {
            try await tessera.audit.record(event)
        } catch {
            context.logger.error("could not write the audit event", metadata: ["action": "\(audit.action)"])
        }
    }

    // MARK: Routes

    func register(on router: Router<TesseraRequestContext>) {
        let v1 = router.group("v1")
        v1.get("whoami") { request, context in await handle(request, context, scope: .anyone, whoami) }

        v1.get("tenants") { request, context in await handle(request, context, scope: .superAdmin, listTenants) }
        v1.post("tenants") { request, context in
            await handle(request, context, scope: .superAdmin, audit: Audit(action: "tenant.create", resource: "tenant"), createTenant)
        }
        v1.get("tenants/:tenant") { request, context in await handle(request, context, scope: .superAdmin, getTenant) }
        v1.patch("tenants/:tenant") { request, context in
            await handle(request, context, scope: .superAdmin, audit: Audit(action: "tenant.update", resource: "tenant", idParameter: "tenant"), updateTenant)
        }

        v1.get("signing-keys") { request, context in await handle(request, context, scope: .superAdmin, listSigningKeys) }
        v1.post("signing-keys/rotate") { request, context in
            await handle(request, context, scope: .superAdmin, audit: Audit(action: "signing_key.rotate", resource: "signing_key"), rotateSigningKey)
        }

        let accounts = v1.group("tenants/:tenant/service-accounts")
        accounts.get { request, context in await handle(request, context, scope: .tenant, listAccounts) }
        accounts.post { request, context in
            await handle(request, context, scope: .tenant, audit: Audit(action: "service_account.create", resource: "service_account"), createAccount)
        }
        accounts.get(":id") { request, context in await handle(request, context, scope: .tenant, getAccount) }
        accounts.patch(":id") { request, context in
            await handle(
                request, context, scope: .tenant, audit: Audit(action: "service_account.update", resource: "service_account", idParameter: "id"), updateAccount)
        }
        accounts.delete(":id") { request, context in
            await handle(
                request, context, scope: .tenant, audit: Audit(action: "service_account.delete", resource: "service_account", idParameter: "id"), deleteAccount)
        }
        registerCredentials(on: accounts)
        registerFederation(on: v1)

        let roles = v1.group("tenants/:tenant/roles")
        roles.get { request, context in await handle(request, context, scope: .tenant, listRoles) }
        roles.post { request, context in
            await handle(request, context, scope: .tenant, audit: Audit(action: "role.create", resource: "role"), createRole)
        }
        roles.put(":name") { request, context in
            await handle(request, context, scope: .tenant, audit: Audit(action: "role.update", resource: "role", idParameter: "name"), putRole)
        }
        roles.delete(":name") { request, context in
            await handle(request, context, scope: .tenant, audit: Audit(action: "role.delete", resource: "role", idParameter: "name"), deleteRole)
        }

        v1.get("tenants/:tenant/audit-events") { request, context in await handle(request, context, scope: .tenant, listAuditEvents) }
    }

    // MARK: Who am I

    private struct WhoAmI: Encodable {
        let accountID: String
        let clientID: String
        let name: String
        let tenant: Representation.TenantJSON
        let roles: [String]
        let scopes: [String]

        enum CodingKeys: String, CodingKey {
            case name, tenant, roles, scopes
            case accountID = "account_id"
            case clientID = "client_id"
        }
    }

    func whoami(_ call: Call) async throws -> (Response, resourceID: String?) {
        guard let tenant = try await tessera.storage.tenant(id: call.principal.tenantID),
            let record = try await tessera.clients.client(id: call.principal.clientID, now: tessera.dependencies.now())
        else {
            throw Problem.notFound("the calling account no longer exists")
        }
        let body = WhoAmI(
            accountID: call.principal.accountID.lowercased, clientID: call.principal.clientID, name: record.account.name,
            tenant: .init(tenant), roles: call.principal.roles, scopes: call.principal.scopes.sorted()
        )
        return (.json(body), nil)
    }

    // MARK: Tenants

    func listTenants(_ call: Call) async throws -> (Response, resourceID: String?) {
        let (limit, cursor) = try call.paging()
        let page = try await tessera.tenants.list(after: cursor, limit: limit)
        return (.json(Representation.PageJSON(items: page.items.map(Representation.TenantJSON.init), nextCursor: Cursor.encode(page.nextCursor))), nil)
    }

    func createTenant(_ call: Call) async throws -> (Response, resourceID: String?) {
        var reader = try await call.body()
        guard let slug = try reader.string("slug") else { throw Problem(.badRequest, "slug is required", field: "slug") }
        let name = try reader.string("name")
        let limit = try reader.integer("account_limit")
        let lifetime = try reader.integer("token_lifetime")
        try reader.finish()
        let tenant = try await tessera.tenants.create(slug: slug, name: name, accountLimit: limit, tokenLifetime: lifetime)
        let id = tenant.id.lowercased
        return (.json(Representation.TenantJSON(tenant), status: .created, headers: [.location: "/v1/tenants/\(id)"]), id)
    }

    private func tenantNamed(_ call: Call) async throws -> Tenant {
        guard let tenant = try await tessera.tenants.find(try call.parameter("tenant")) else { throw Problem.notFound("tenant not found") }
        return tenant
    }

    func getTenant(_ call: Call) async throws -> (Response, resourceID: String?) {
        (.json(Representation.TenantJSON(try await tenantNamed(call))), nil)
    }

    func updateTenant(_ call: Call) async throws -> (Response, resourceID: String?) {
        let tenant = try await tenantNamed(call)
        var reader = try await call.body()
        let patch = TenantPatch(
            name: try reader.string("name"),
            accountLimit: try reader.nullable("account_limit") { (r: inout JSONObjectReader) throws(Problem) in try r.integer("account_limit") },
            tokenLifetime: try reader.nullable("token_lifetime") { (r: inout JSONObjectReader) throws(Problem) in try r.integer("token_lifetime") },
            defaultAudience: try reader.nullable("default_audience") { (r: inout JSONObjectReader) throws(Problem) in try r.string("default_audience") }
        )
        try reader.finish()
        let updated = try await tessera.tenants.update(tenant, patch)
        return (.json(Representation.TenantJSON(updated)), updated.id.lowercased)
    }

    // MARK: Service accounts

    func listAccounts(_ call: Call) async throws -> (Response, resourceID: String?) {
        let (limit, cursor) = try call.paging()
        var filter = ServiceAccountFilter(role: try call.query("role"), group: try call.query("group"), namePrefix: try call.query("name_prefix"))
        if let status = try call.query("status") {
            guard let parsed = ServiceAccount.Status(rawValue: status) else {
                throw Problem(.badRequest, "status must be active or disabled", field: "status")
            }
            filter.status = parsed
        }
        // Written where the store read the page (on SQLite a worker thread), not on
        // this connection's event loop: a page is the largest answer of the admin API.
        let response = try await tessera.accounts.list(in: call.tenant, filter: filter, after: cursor, limit: limit) { page in
            Response.json(Representation.PageJSON(items: page.items.map { Representation.Account($0) }, nextCursor: Cursor.encode(page.nextCursor)))
        }
        return (response, nil)
    }

    private static func readProjects(_ reader: inout JSONObjectReader) throws(Problem) -> [ServiceAccount.ProjectMembership]? {
        try reader.objects("projects") { (member: inout JSONObjectReader) throws(Problem) in
            guard let project = try member.string("project"), let role = try member.string("role") else {
                throw Problem(.badRequest, "each project needs \"project\" and \"role\"", field: "projects")
            }
            return ServiceAccount.ProjectMembership(project: project, role: role)
        }
    }

    /// The `tls_client_auth_*` fields (docs/binding.md): `nil` when none is sent,
    /// `.some(nil)` when those sent are all `null`, else the one name set.
    private static func readCertificateName(_ reader: inout JSONObjectReader) throws(Problem) -> TokenBinding.CertificateName?? {
        var result: TokenBinding.CertificateName?? = nil
        for kind in TokenBinding.CertificateName.Kind.allCases {
            guard let value = try reader.nullable(kind.field, { (r: inout JSONObjectReader) throws(Problem) in try r.string(kind.field) }) else {
                continue
            }
            if let value {
                if case .some(.some(let other)) = result {
                    throw Problem(.badRequest, "set at most one of \(other.kind.field) and \(kind.field)", field: kind.field)
                }
                result = .some(TokenBinding.CertificateName(kind: kind, value: value))
            } else if result == nil {
                result = .some(nil)
            }
        }
        return result
    }

    func createAccount(_ call: Call) async throws -> (Response, resourceID: String?) {
        var reader = try await call.body()
        let binding = TokenBinding(
            dpopRequired: try reader.bool("dpop_bound_access_tokens") ?? false,
            certificateRequired: try reader.bool("tls_client_certificate_bound_access_tokens") ?? false,
            tlsClientAuth: try Self.readCertificateName(&reader) ?? nil,
            selfSigned: try reader.bool("self_signed_tls_client_auth") ?? false
        )
        let input = NewServiceAccount(
            name: try reader.string("name"),
            description: try reader.string("description"),
            roles: try reader.stringArray("roles"),
            groups: try reader.stringArray("groups"),
            projects: try Self.readProjects(&reader),
            audiences: try reader.stringArray("audiences"),
            expiresAt: try reader.date("expires_at"),
            issuesSecret: try reader.bool("issue_secret") ?? true,
            binding: binding
        )
        try reader.finish()
        let created = try await tessera.accounts.create(in: call.tenant, input, by: call.caller)
        let id = created.account.id.lowercased
        return (
            .json(
                Representation.Account(created.account, clientSecret: created.clientSecret), status: .created,
                headers: [.location: "/v1/tenants/\(try call.tenant.slug)/service-accounts/\(id)"]
            ),
            id
        )
    }

    func getAccount(_ call: Call) async throws -> (Response, resourceID: String?) {
        let account = try await tessera.accounts.get(try await call.accountID(), in: call.tenant)
        return (.json(Representation.Account(account)), nil)
    }

    func updateAccount(_ call: Call) async throws -> (Response, resourceID: String?) {
        let id = try await call.accountID()
        var reader = try await call.body()
        var patch = ServiceAccountPatch(
            name: try reader.string("name"),
            description: try reader.nullable("description") { (r: inout JSONObjectReader) throws(Problem) in try r.string("description") },
            roles: try reader.stringArray("roles"),
            groups: try reader.stringArray("groups"),
            projects: try Self.readProjects(&reader),
            audiences: try reader.stringArray("audiences"),
            expiresAt: try reader.nullable("expires_at") { (r: inout JSONObjectReader) throws(Problem) in try r.date("expires_at") },
            tokenLifetime: try reader.nullable("token_lifetime") { (r: inout JSONObjectReader) throws(Problem) in try r.integer("token_lifetime") }
        )
        if let status = try reader.string("status") {
            guard let parsed = ServiceAccount.Status(rawValue: status) else {
                throw Problem(.badRequest, "status must be active or disabled", field: "status")
            }
            patch.status = parsed
        }
        patch.dpopRequired = try reader.bool("dpop_bound_access_tokens")
        patch.certificateRequired = try reader.bool("tls_client_certificate_bound_access_tokens")
        patch.tlsClientAuth = try Self.readCertificateName(&reader)
        patch.selfSigned = try reader.bool("self_signed_tls_client_auth")
        try reader.finish()
        let updated = try await tessera.accounts.update(id, in: call.tenant, patch, by: call.caller)
        return (.json(Representation.Account(updated)), nil)
    }

    func deleteAccount(_ call: Call) async throws -> (Response, resourceID: String?) {
        _ = try await tessera.accounts.delete(try await call.accountID(), in: call.tenant, by: call.caller)
        return (Response(status: .noContent), nil)
    }
}
