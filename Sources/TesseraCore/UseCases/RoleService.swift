import Foundation

/// A tenant's role catalogue.
public struct RoleService: Sendable {
    let storage: any TenantStorage
    let clients: ClientDirectory

    public init(storage: any TenantStorage, clients: ClientDirectory) {
        self.storage = storage
        self.clients = clients
    }

    public func list(in tenant: Tenant) async throws -> [Role] {
        try await storeCall { try await storage.roles(tenantID: tenant.id) }
    }

    /// Role names whose scopes together are exactly `scopes`, for APIs that set an
    /// account's permissions rather than its roles: every role that grants nothing
    /// beyond `scopes`, largest first, each taken when it adds a scope (names break
    /// ties). `tessera:super` is never granted this way. Throws `invalid(field)`
    /// when no such combination exists.
    public func roles(grantingExactly scopes: Set<String>, in tenant: Tenant, field: String = "permissions") async throws -> [String] {
        guard !scopes.isEmpty else { throw DomainError.invalid(field, "\(field) must name at least one permission") }
        let fitting = try await list(in: tenant)
            .filter { !$0.scopes.isEmpty && !$0.scopes.contains(TesseraScope.superAdmin) && Set($0.scopes).isSubset(of: scopes) }
            .sorted { ($0.scopes.count, $1.name) > ($1.scopes.count, $0.name) }
        var chosen: [String] = [], covered: Set<String> = []
        for role in fitting where !Set(role.scopes).isSubset(of: covered) {
            chosen.append(role.name)
            covered.formUnion(role.scopes)
        }
        let missing = scopes.subtracting(covered)
        guard missing.isEmpty else {
            throw DomainError.invalid(field, "no role grants \(missing.sorted().joined(separator: ", ")) without more")
        }
        return chosen.sorted()
    }

    public func create(_ role: Role, in tenant: Tenant) async throws -> Role {
        let role = try Self.validate(role)
        do {
            try await storage.createRole(role, tenantID: tenant.id)
        } catch let error as StoreError where error.isConflict {
            throw DomainError(.conflict, "a role named \"\(role.name)\" already exists")
        } catch is StoreError {
            throw DomainError(.unavailable, "the store is unavailable")
        }
        // Cached role catalogues must learn of it before an account is granted it.
        clients.invalidateAll()
        return role
    }

    /// Replaces a custom role's scopes; tokens issued after this carry the new set.
    public func update(_ role: Role, in tenant: Tenant) async throws -> Role {
        let role = try Self.validate(role)
        try await ensureCustom(role.name, in: tenant)
        try await storeCall { try await storage.updateRole(role, tenantID: tenant.id) }
        clients.invalidateAll()
        return role
    }

    /// Deletes a custom role; a role still held answers `conflict`.
    public func delete(_ name: String, in tenant: Tenant) async throws {
        try await ensureCustom(name, in: tenant)
        try await storeCall { try await storage.deleteRole(name: name, tenantID: tenant.id) }
        clients.invalidateAll()
    }

    private func ensureCustom(_ name: String, in tenant: Tenant) async throws {
        guard let existing = try await list(in: tenant).first(where: { $0.name == name }) else {
            throw DomainError(.notFound, "role not found")
        }
        if existing.builtin { throw DomainError(.conflict, "the built-in role \"\(name)\" cannot be changed") }
    }

    /// A role name is 1–64 characters of `a-z 0-9 _ . : -`, starting with a letter or digit;
    /// scopes are RFC 6749 scope tokens, and `tessera:super` is never grantable by a custom role.
    static func validate(_ role: Role) throws -> Role {
        let bytes = Array(role.name.utf8)
        let allowed: (UInt8) -> Bool = { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || [0x5F, 0x2E, 0x3A, 0x2D].contains(byte)
        }
        guard (1...64).contains(bytes.count), bytes.allSatisfy(allowed), allowed(bytes[0]), bytes[0] != 0x5F, bytes[0] != 0x2E else {
            throw DomainError.invalid("name", "a role name is 1–64 characters of a-z, 0-9, '_', '.', ':' and '-'")
        }
        let scopes = try ServiceAccountService.validateList(role.scopes, field: "scopes", allowEmpty: true)
        guard scopes.allSatisfy(ServiceAccountService.isScopeToken) else {
            throw DomainError.invalid("scopes", "scopes must be RFC 6749 scope tokens")
        }
        if scopes.contains(TesseraScope.superAdmin) {
            throw DomainError.invalid("scopes", "a custom role cannot carry \(TesseraScope.superAdmin)")
        }
        return Role(name: role.name, scopes: scopes, builtin: false)
    }
}
