import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

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

    /// The account a path parameter names, in any face of its id
    /// (``AccountReference``); anything else is a 404 saying `notFound`.
    func account(_ parameter: String = "id", notFound: String = "service account not found") throws(Problem) -> AccountReference {
        guard let text = parameters.get(parameter), let reference = AccountReference(text) else { throw Problem(.notFound, notFound) }
        return reference
    }

    /// The tenant, once resolved (the parse and render steps run after it).
    var resolvedTenant: Tenant {
        get throws(Problem) {
            guard let tenant else { throw Problem(.internalServerError, "the tenant was not resolved") }
            return tenant
        }
    }
}

/// Runs ``DialectRoute``s over the admin API's authentication, use cases and audit log.
struct DialectPipeline: Sendable {
    /// How many accounts an offset page reaches into (``DialectAction/listAccountsAt(_:exactName:offset:limit:)``).
    static let offsetWindow = 10_000

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
            let resources = outcome.resourceIDs
            for resource in resources.isEmpty ? [route.resourceID(call)] : resources.map(Optional.some) {
                await audit(route.kind, call, resourceID: resource, status: response.status, context)
            }
            return response
        } catch {
            let problem = Problem(error)
            if problem.status == .internalServerError {
                context.logger.error("dialect request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            }
            let response = route.failure(problem, call)
            if call.principal != nil {
                await audit(route.kind, call, resourceID: route.resourceID(call), status: response.status, context)
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
            return try await api.authentication.principal(request, context: context, allowingBasicFrom: context.peer)
        }
        return try await api.authentication.principal(request, context: context)
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
        case .listAccounts(let filter, let after, let limit):
            let page = try await tessera.accounts.list(in: tenant, filter: filter, after: after, limit: limit)
            var creators: [String: ServiceAccount?] = [:]
            var items: [DescribedAccount] = []
            for account in page.items { items.append(await describe(account, creators: &creators)) }
            return .accounts(items, nextCursor: page.nextCursor)
        case .listAccountsAt(var filter, let exactName, let offset, let limit):
            if let exactName { filter.namePrefix = exactName }
            let window = try await tessera.accounts.list(in: tenant, filter: filter, after: nil, limit: Self.offsetWindow).items
            let matching = exactName.map { name in window.filter { $0.name == name } } ?? window
            var total = matching.count
            if exactName == nil, filter == ServiceAccountFilter(), window.count == Self.offsetWindow {
                total = try await tessera.accounts.count(in: tenant)
            }
            var creators: [String: ServiceAccount?] = [:]
            var items: [DescribedAccount] = []
            for account in matching.dropFirst(offset).prefix(limit) { items.append(await describe(account, creators: &creators)) }
            return .accountsAt(items, total: total)
        case .getAccount(let reference):
            return try await described(try await tessera.accounts.get(reference, in: tenant))
        case .updateAccount(let reference, let patch):
            let account = try await tessera.accounts.get(reference, in: tenant)
            return try await described(try await tessera.accounts.update(account.id, in: tenant, patch, by: Caller(principal)))
        case .setPermissions(let reference, let scopes):
            let account = try await tessera.accounts.get(reference, in: tenant)
            let roles = try await tessera.roles.roles(grantingExactly: scopes, in: tenant)
            return try await described(try await tessera.accounts.update(account.id, in: tenant, ServiceAccountPatch(roles: roles), by: Caller(principal)))
        case .updateEach(let references, let change):
            var accounts: [ServiceAccount] = []
            for reference in references { accounts.append(try await tessera.accounts.get(reference, in: tenant)) }
            var updated: [ServiceAccount] = []
            for account in accounts { updated.append(try await tessera.accounts.update(account.id, in: tenant, change(account), by: Caller(principal))) }
            return .accountsUpdated(updated)
        case .deleteAccount(let reference, let refusingActiveAPITokens):
            let account = try await tessera.accounts.get(reference, in: tenant)
            if refusingActiveAPITokens {
                let now = tessera.dependencies.now()
                let (_, tokens) = try await tessera.accounts.secrets(of: account.id, in: tenant, kind: .apiToken)
                if tokens.contains(where: { $0.isUsable(at: now) }) {
                    throw Problem(.preconditionFailed, "the service user has active tokens: revoke them first")
                }
            }
            return .accountDeleted(try await tessera.accounts.delete(account.id, in: tenant, by: Caller(principal)))
        case .listSecrets(let reference, let kind):
            let account = try await tessera.accounts.get(reference, in: tenant)
            let (_, secrets) = try await tessera.accounts.secrets(of: account.id, in: tenant, kind: kind)
            return .secrets(secrets.map(withPendingUse), account: account)
        case .updateSecret(let reference, let secretID, let kind, let enabled):
            let account = try await tessera.accounts.get(reference, in: tenant)
            let updated = try await tessera.accounts.setSecret(secretID, of: account.id, in: tenant, kind: kind, enabled: enabled, by: Caller(principal))
            return .secretUpdated(updated, account: account)
        case .deleteSecret(let reference, let secretID, let kind):
            let account = try await tessera.accounts.get(reference, in: tenant)
            try await tessera.accounts.deleteSecret(secretID, of: account.id, in: tenant, kind: kind, by: Caller(principal))
            return .secretDeleted(secretID, account: account)
        }
    }

    /// A secret with its latest use, written or still pending.
    private func withPendingUse(_ secret: ClientSecret) -> ClientSecret {
        var secret = secret
        if let pending = tessera.usage.pendingUse(ofSecret: secret.id), pending > secret.lastUsedAt ?? .distantPast { secret.lastUsedAt = pending }
        return secret
    }

    /// An account as a single answer shows it.
    private func described(_ account: ServiceAccount) async throws -> DialectOutcome {
        var creators: [String: ServiceAccount?] = [:]
        return .account(await describe(account, creators: &creators))
    }

    /// The scopes `account`'s roles grant now (empty when they cannot be read) and
    /// its creator, read once per creator id (`creators` remembers them).
    private func describe(_ account: ServiceAccount, creators: inout [String: ServiceAccount?]) async -> DescribedAccount {
        let record = try? await tessera.clients.client(id: account.clientID, now: tessera.dependencies.now())
        var creator: ServiceAccount?
        if let createdBy = account.createdBy {
            if let known = creators[createdBy] {
                creator = known
            } else {
                if let id = UUID(uuidString: createdBy) { creator = try? await tessera.storage.serviceAccount(id: id, tenantID: account.tenantID) }
                creators[createdBy] = .some(creator)
            }
        }
        var account = account
        if let pending = tessera.usage.pendingUse(ofAccount: account.id), pending > account.lastUsedAt ?? .distantPast {
            account.lastUsedAt = pending
        }
        let credentials = (record?.secrets ?? []).map(withPendingUse)
        return DescribedAccount(
            account: account, permissions: record?.allowedScopes ?? [], creator: creator,
            secrets: credentials.filter { $0.kind == .clientSecret }, apiTokens: credentials.filter { $0.kind == .apiToken }
        )
    }

    private func audit(
        _ kind: DialectAction.Kind, _ call: DialectRequest, resourceID: String?, status: HTTPResponse.Status, _ context: TesseraRequestContext
    ) async {
        guard let principal = call.principal, let audit = kind.audit else { return }
        await api.record(audit, tenantID: call.tenant?.id ?? principal.tenantID, by: principal, resourceID: resourceID, status: status, context)
    }
}
