import Foundation

/// Tenant use cases.
public struct TenantService: Sendable {
    let storage: any TenantStorage
    let clients: ClientDirectory
    let dependencies: Dependencies

    public init(storage: any TenantStorage, clients: ClientDirectory, dependencies: Dependencies) {
        self.storage = storage
        self.clients = clients
        self.dependencies = dependencies
    }

    /// Finds a tenant by id (a UUID) or slug.
    public func find(_ reference: String) async throws -> Tenant? {
        if let id = UUID(text: reference) { return try await storage.tenant(id: id) }
        guard Tenant.isValidSlug(reference) else { return nil }
        return try await storage.tenant(slug: reference)
    }

    /// Finds a tenant as ``find(_:)`` does, through the client directory's tenant
    /// cache (``ClientDirectory/tenant(id:now:)``): for requests that only read, such
    /// as the admin API's GETs, which then make one read of the store instead of two.
    public func findCached(_ reference: String) async throws -> Tenant? {
        let now = dependencies.now()
        if let id = UUID(text: reference) { return try await clients.tenant(id: id, now: now) }
        guard Tenant.isValidSlug(reference) else { return nil }
        return try await clients.tenant(slug: reference, now: now)
    }

    /// The tenant `reference` names (an id or a slug) if it is the tenant `tenantID`,
    /// through the tenant cache; `nil` for any other, whether it exists or not. Only
    /// the tenant `tenantID` is looked up, so that for a caller confined to its own
    /// tenant another tenant's answer takes the same path whether it exists or not:
    /// the cache cannot tell it which tenants exist.
    public func findCached(_ reference: String, within tenantID: UUID) async throws -> Tenant? {
        guard let own = try await clients.tenant(id: tenantID, now: dependencies.now()) else { return nil }
        if let id = UUID(text: reference) { return id == own.id ? own : nil }
        return reference == own.slug ? own : nil
    }

    /// The tenant with this `number`, for APIs that address organisations by integer.
    public func find(number: Int) async throws -> Tenant? {
        guard number > 0 else { return nil }
        let page = try await storage.listTenants(afterNumber: number - 1, limit: 1)
        return page.first { $0.number == number }
    }

    /// Creates a tenant with the default role catalogue.
    public func create(slug: String, name: String? = nil, accountLimit: Int? = nil) async throws -> Tenant {
        guard Tenant.isValidSlug(slug) else {
            throw DomainError.invalid("slug", "slug must be 1–63 characters of a-z, 0-9 and '-', starting with a letter or digit")
        }
        let now = dependencies.now()
        let tenant = Tenant(id: dependencies.uuid(), slug: slug, name: name ?? slug, accountLimit: accountLimit, createdAt: now, updatedAt: now)
        do {
            return try await storage.createTenant(tenant, roles: Role.defaultCatalogue)
        } catch let error as StoreError where error.isConflict {
            throw DomainError(.conflict, "a tenant with slug \"\(slug)\" already exists")
        }
    }

    /// Returns the tenant with `slug`, creating it when missing (a concurrent
    /// creation of the same slug is tolerated).
    public func findOrCreate(slug: String) async throws -> Tenant {
        if let existing = try await storage.tenant(slug: slug) { return existing }
        do {
            return try await create(slug: slug)
        } catch let error as DomainError where error.kind == .conflict {
            if let existing = try await storage.tenant(slug: slug) { return existing }
            throw error
        }
    }
}

/// `tessera bootstrap`: a tenant (created if missing) and a new admin account in it.
public struct Bootstrap: Sendable {
    public struct Result: Sendable, Codable, Hashable {
        public let tenantID: String
        public let tenantSlug: String
        public let serviceAccountID: String
        public let clientID: String
        public let clientSecret: String

        enum CodingKeys: String, CodingKey {
            case tenantID = "tenant_id"
            case tenantSlug = "tenant_slug"
            case serviceAccountID = "service_account_id"
            case clientID = "client_id"
            case clientSecret = "client_secret"
        }
    }

    private let tenants: TenantService
    private let accounts: ServiceAccountService

    public init(tenants: TenantService, accounts: ServiceAccountService) {
        self.tenants = tenants
        self.accounts = accounts
    }

    public func run(tenantSlug: String, role: String) async throws -> Result {
        let tenant = try await tenants.findOrCreate(slug: tenantSlug)
        let created = try await accounts.create(in: tenant, NewServiceAccount(roles: [role]), by: .bootstrap)
        // An account made with its first secret, as here, always carries it.
        guard let clientSecret = created.clientSecret else { throw DomainError(.unavailable, "the account was made without a secret") }
        return Result(
            tenantID: tenant.id.lowercased,
            tenantSlug: tenant.slug,
            serviceAccountID: created.account.id.lowercased,
            clientID: created.account.clientID,
            clientSecret: clientSecret
        )
    }
}
