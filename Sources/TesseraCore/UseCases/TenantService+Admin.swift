import Foundation

/// Changes to a tenant; for the nullable fields `.some(nil)` clears.
public struct TenantPatch: Sendable, Hashable {
    public var name: String?
    public var accountLimit: Int??
    public var tokenLifetime: Int??
    public var defaultAudience: String??

    public init(name: String? = nil, accountLimit: Int?? = nil, tokenLifetime: Int?? = nil, defaultAudience: String?? = nil) {
        self.name = name
        self.accountLimit = accountLimit
        self.tokenLifetime = tokenLifetime
        self.defaultAudience = defaultAudience
    }
}

extension TenantService {
    /// One page of tenants, by number.
    public func list(after cursor: Int64?, limit: Int) async throws -> Page<Tenant> {
        let items = try await storeCall { try await storage.listTenants(afterNumber: cursor.map(Int.init), limit: limit + 1) }
        let page = Array(items.prefix(limit))
        return Page(items: page, nextCursor: items.count > limit ? page.last.map { Int64($0.number) } : nil)
    }

    /// Creates a tenant with its settings (super admins only; checked by the caller's route).
    public func create(slug: String, name: String?, accountLimit: Int?, tokenLifetime: Int?) async throws -> Tenant {
        if let name { _ = try ServiceAccountService.validateName(name) }
        try Self.validate(accountLimit: accountLimit, tokenLifetime: tokenLifetime)
        var tenant = try await create(slug: slug, name: name, accountLimit: accountLimit)
        if let tokenLifetime {
            tenant.tokenLifetime = tokenLifetime
            try await storeCall { try await storage.updateTenant(tenant) }
        }
        return tenant
    }

    public func update(_ tenant: Tenant, _ patch: TenantPatch) async throws -> Tenant {
        var updated = tenant
        if let name = patch.name { updated.name = try ServiceAccountService.validateName(name) }
        if let limit = patch.accountLimit { updated.accountLimit = limit }
        if let lifetime = patch.tokenLifetime { updated.tokenLifetime = lifetime }
        if let audience = patch.defaultAudience {
            if let audience { _ = try ServiceAccountService.validateList([audience], field: "default_audience", allowEmpty: false) }
            updated.defaultAudience = audience
        }
        try Self.validate(accountLimit: updated.accountLimit, tokenLifetime: updated.tokenLifetime)
        updated.updatedAt = dependencies.now()
        let final = updated
        try await storeCall { try await storage.updateTenant(final) }
        clients.invalidateAll()
        return final
    }

    static func validate(accountLimit: Int?, tokenLifetime: Int?) throws {
        if let accountLimit, !(0...1_000_000).contains(accountLimit) {
            throw DomainError.invalid("account_limit", "account_limit must be 0–1000000")
        }
        if let tokenLifetime, !ServiceAccountService.tokenLifetimeRange.contains(tokenLifetime) {
            throw DomainError.invalid("token_lifetime", "token_lifetime must be 60–86400 seconds")
        }
    }
}
