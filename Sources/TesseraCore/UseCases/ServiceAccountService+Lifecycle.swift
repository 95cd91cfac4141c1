import Foundation
import TesseraJOSE

/// Changes to an account; `nil` leaves a field alone, and for the nullable fields
/// `.some(nil)` clears it.
public struct ServiceAccountPatch: Sendable, Hashable {
    public var name: String?
    public var description: String??
    public var roles: [String]?
    public var groups: [String]?
    public var projects: [ServiceAccount.ProjectMembership]?
    public var audiences: [String]?
    public var status: ServiceAccount.Status?
    public var expiresAt: Date??
    public var tokenLifetime: Int??
    public var dpopRequired: Bool?
    public var certificateRequired: Bool?
    /// `.some(nil)` removes the account's `tls_client_auth` name.
    public var tlsClientAuth: TokenBinding.CertificateName??
    public var selfSigned: Bool?

    public init(
        name: String? = nil, description: String?? = nil, roles: [String]? = nil, groups: [String]? = nil,
        projects: [ServiceAccount.ProjectMembership]? = nil, audiences: [String]? = nil, status: ServiceAccount.Status? = nil,
        expiresAt: Date?? = nil, tokenLifetime: Int?? = nil, dpopRequired: Bool? = nil, certificateRequired: Bool? = nil,
        tlsClientAuth: TokenBinding.CertificateName?? = nil
    ) {
        self.dpopRequired = dpopRequired
        self.certificateRequired = certificateRequired
        self.tlsClientAuth = tlsClientAuth
        self.name = name
        self.description = description
        self.roles = roles
        self.groups = groups
        self.projects = projects
        self.audiences = audiences
        self.status = status
        self.expiresAt = expiresAt
        self.tokenLifetime = tokenLifetime
    }
}

/// A new secret for an existing account (docs/ARCHITECTURE.md §4).
public struct NewClientSecret: Sendable, Hashable {
    public var kind: ClientSecret.Kind
    public var name: String
    /// At most ``ServiceAccountService/maximumDescriptionLength`` characters.
    public var description: String?
    /// 30, 60, 90 or 365; exclusive with `expiresAt`; neither means never.
    public var expiresInDays: Int?
    public var expiresAt: Date?
    /// Restricts the scopes of tokens obtained with this secret (e.g. `["scim"]`).
    public var scopes: [String]?

    public init(
        kind: ClientSecret.Kind = .clientSecret, name: String, description: String? = nil, expiresInDays: Int? = nil, expiresAt: Date? = nil,
        scopes: [String]? = nil
    ) {
        self.kind = kind
        self.description = description
        self.name = name
        self.expiresInDays = expiresInDays
        self.expiresAt = expiresAt
        self.scopes = scopes
    }
}

/// A created secret; the plain value is shown this once.
public struct CreatedClientSecret: Sendable {
    public let secret: ClientSecret
    public let clientSecret: String
}

extension ServiceAccountService {
    static func notFound(_ kind: ClientSecret.Kind) -> String {
        switch kind {
        case .clientSecret: "secret not found"
        case .apiToken: "API token not found"
        }
    }

    public static let tokenLifetimeRange = 60...86_400
    public static let allowedSecretLifetimes = [30, 60, 90, 365]
    public static let maximumSecretsPerAccount = 10

    /// The account, or `notFound`.
    public func get(_ id: UUID, in tenant: Tenant) async throws -> ServiceAccount {
        guard let account = try await storeCall({ try await storage.serviceAccount(id: id, tenantID: tenant.id) }) else {
            throw DomainError(.notFound, "service account not found")
        }
        return account
    }

    /// The account `reference` names in `tenant`, whichever face it uses, or `notFound`.
    public func get(_ reference: AccountReference, in tenant: Tenant) async throws -> ServiceAccount {
        switch reference {
        case .id(let id):
            return try await get(id, in: tenant)
        case .number(let number):
            return try await get(number: number, in: tenant)
        case .name(let name):
            let page = try await list(in: tenant, filter: .init(namePrefix: name), after: nil, limit: 50)
            guard let match = page.items.first(where: { $0.name == name }) else { throw DomainError(.notFound, "service account not found") }
            return match
        case .holdingSecret(let secretID):
            guard let clientID = try await storeCall({ try await storage.clientID(ofSecret: secretID) }),
                let found = try await storeCall({ try await storage.credentials(clientID: clientID) }), found.account.tenantID == tenant.id
            else {
                throw DomainError(.notFound, "service account not found")
            }
            return found.account
        }
    }

    /// The account with this `number` in `tenant`, or `notFound`: for APIs that
    /// address accounts by integer.
    public func get(number: Int, in tenant: Tenant) async throws -> ServiceAccount {
        let page =
            number > 0
            ? try await storeCall { try await storage.listServiceAccounts(tenantID: tenant.id, filter: .init(), afterNumber: number - 1, limit: 1) }
            : []
        guard let account = page.first, account.number == number else { throw DomainError(.notFound, "service account not found") }
        return account
    }

    /// How many accounts the tenant holds.
    public func count(in tenant: Tenant) async throws -> Int {
        try await storeCall { try await storage.countServiceAccounts(tenantID: tenant.id) }
    }

    /// One page of the tenant's accounts: after `cursor`, or, with
    /// `filter.beforeNumber`, the last ones before it (then `nextCursor` continues backwards).
    public func list(in tenant: Tenant, filter: ServiceAccountFilter, after cursor: Int64?, limit: Int) async throws -> Page<ServiceAccount> {
        try await list(in: tenant, filter: filter, after: cursor, limit: limit) { $0 }
    }

    /// One page, as ``list(in:filter:after:limit:)`` reads it, given to `render` where
    /// the store read it (``ServiceAccountStorage/listServiceAccounts(tenantID:filter:afterNumber:limit:transform:)``),
    /// and what `render` makes of it: the admin API's response for a page.
    public func list<Rendered: Sendable>(
        in tenant: Tenant, filter: ServiceAccountFilter, after cursor: Int64?, limit: Int,
        render: @escaping @Sendable (Page<ServiceAccount>) -> Rendered
    ) async throws -> Rendered {
        let backwards = filter.beforeNumber != nil
        return try await storeCall {
            try await storage.listServiceAccounts(tenantID: tenant.id, filter: filter, afterNumber: cursor.map(Int.init), limit: limit + 1) { items in
                // Backwards, the extra account is the first one, and the cursor to go
                // on from is the page's first number.
                if backwards {
                    let page = Array(items.suffix(limit))
                    return render(Page(items: page, nextCursor: items.count > limit ? page.first.map { Int64($0.number) } : nil))
                }
                let page = Array(items.prefix(limit))
                return render(Page(items: page, nextCursor: items.count > limit ? page.last.map { Int64($0.number) } : nil))
            }
        }
    }

    /// Applies `patch`. Takes effect at the token endpoint at once in this process.
    public func update(_ id: UUID, in tenant: Tenant, _ patch: ServiceAccountPatch, by caller: Caller) async throws -> ServiceAccount {
        var (account, tenantRoles) = try await guarded(id, in: tenant, by: caller)
        let catalogue = Set(tenantRoles.map(\.name))
        if let name = patch.name { account.name = try Self.validateName(name) }
        if let description = patch.description {
            if let description { try Self.validateDescription(description) }
            account.description = description
        }
        if let roles = patch.roles {
            account.roles = try Self.validateList(roles, field: "roles", allowEmpty: false)
            if let unknown = account.roles.first(where: { !catalogue.contains($0) }) {
                throw DomainError.invalid("roles", "unknown role \"\(unknown)\"")
            }
        }
        if let groups = patch.groups { account.groups = try Self.validateList(groups, field: "groups", allowEmpty: true) }
        if let audiences = patch.audiences { account.audiences = try Self.validateList(audiences, field: "audiences", allowEmpty: true) }
        if let projects = patch.projects {
            account.projects = try Self.validateProjects(projects, catalogue: catalogue)
        }
        try Self.checkGrant(account.roles + account.projects.map(\.role), of: tenantRoles, by: caller)
        if let status = patch.status {
            if status == .disabled, caller.id == account.id.lowercased {
                throw DomainError(.conflict, "an account cannot disable itself")
            }
            account.status = status
        }
        let now = dependencies.now()
        if let expiresAt = patch.expiresAt {
            if let expiresAt, expiresAt <= now { throw DomainError.invalid("expires_at", "expires_at must be in the future") }
            account.expiresAt = expiresAt
        }
        if let lifetime = patch.tokenLifetime {
            if let lifetime, !Self.tokenLifetimeRange.contains(lifetime) {
                throw DomainError.invalid(
                    "token_lifetime", "token_lifetime must be \(Self.tokenLifetimeRange.lowerBound)–\(Self.tokenLifetimeRange.upperBound) seconds")
            }
            account.tokenLifetime = lifetime
        }
        if let required = patch.dpopRequired { account.binding.dpopRequired = required }
        if let required = patch.certificateRequired { account.binding.certificateRequired = required }
        if let name = patch.tlsClientAuth { account.binding.tlsClientAuth = name }
        if let allowed = patch.selfSigned { account.binding.selfSigned = allowed }
        account.binding = try account.binding.validated()
        account.updatedAt = now
        let updated = account
        do {
            try await storage.updateServiceAccount(updated)
        } catch let error as StoreError where error.isConflict {
            throw DomainError(.conflict, "a service account named \"\(updated.name)\" already exists")
        } catch let error as StoreError where error.isNotFound {
            throw DomainError(.notFound, "service account not found")
        } catch is StoreError {
            throw DomainError(.unavailable, "the store is unavailable")
        }
        clients.invalidate(clientID: updated.clientID)
        return updated
    }

    /// Deletes the account and its secrets; its client id stops working at once here.
    public func delete(_ id: UUID, in tenant: Tenant, by caller: Caller) async throws -> ServiceAccount {
        let (account, _) = try await guarded(id, in: tenant, by: caller)
        if caller.id == account.id.lowercased {
            throw DomainError(.conflict, "an account cannot delete itself")
        }
        guard try await storeCall({ try await storage.deleteServiceAccount(id: id, tenantID: tenant.id) }) else {
            throw DomainError(.notFound, "service account not found")
        }
        clients.invalidate(clientID: account.clientID)
        return account
    }

    // MARK: Secrets

    /// The account's credentials of one kind (client secrets, or API tokens).
    public func secrets(of id: UUID, in tenant: Tenant, kind: ClientSecret.Kind = .clientSecret) async throws -> (ServiceAccount, [ClientSecret]) {
        let account = try await get(id, in: tenant)
        return (account, try await storeCall { try await storage.secrets(accountID: account.id) }.filter { $0.kind == kind })
    }

    /// Adds a secret; several enabled secrets work at once, so rotation overlaps.
    public func createSecret(for id: UUID, in tenant: Tenant, _ input: NewClientSecret, by caller: Caller) async throws -> CreatedClientSecret {
        let (account, _) = try await guarded(id, in: tenant, by: caller)
        let name = try Self.validateName(input.name)
        if let description = input.description { try Self.validateDescription(description) }
        let description = input.description
        let now = dependencies.now()
        var expiresAt: Date?
        switch (input.expiresInDays, input.expiresAt) {
        case (.some, .some):
            throw DomainError.invalid("expires_in_days", "give expires_in_days or expires_at, not both")
        case (.some(let days), nil):
            guard Self.allowedSecretLifetimes.contains(days) else {
                throw DomainError.invalid("expires_in_days", "expires_in_days must be one of 30, 60, 90, 365")
            }
            expiresAt = now.addingTimeInterval(TimeInterval(days) * 86_400)
        case (nil, .some(let date)):
            guard date > now else { throw DomainError.invalid("expires_at", "expires_at must be in the future") }
            expiresAt = date
        case (nil, nil):
            expiresAt = nil
        }
        let scopes = try input.scopes.map { scopes -> [String] in
            let values = try Self.validateList(scopes, field: "scopes", allowEmpty: false)
            guard values.allSatisfy(Self.isScopeToken) else {
                throw DomainError.invalid("scopes", "scopes must be RFC 6749 scope tokens")
            }
            return values
        }
        let value =
            switch input.kind {
            case .clientSecret: SecretFormat.make(randomBytes: dependencies.randomBytes(32))
            case .apiToken: SecretFormat.APIToken.make(randomBytes: dependencies.randomBytes(32))
            }
        let secret = ClientSecret(
            id: dependencies.uuid(), accountID: account.id, kind: input.kind, name: name, description: description, hint: SecretFormat.hint(value),
            digest: SecretFormat.digest(value), scopes: scopes, createdAt: now, expiresAt: expiresAt
        )
        do {
            try await storage.createSecret(secret, limit: Self.maximumSecretsPerAccount)
        } catch let error as StoreError where error.isConflict {
            throw DomainError(.conflict, "a secret or API token named \"\(name)\" already exists for this account")
        } catch let error as StoreError where error.isLimitReached {
            throw DomainError(.limitReached, "an account holds at most \(Self.maximumSecretsPerAccount) secrets and API tokens together")
        } catch let error as StoreError where error.isNotFound {
            throw DomainError(.notFound, "service account not found")
        } catch is StoreError {
            throw DomainError(.unavailable, "the store is unavailable")
        }
        clients.invalidate(clientID: account.clientID)
        return CreatedClientSecret(secret: secret, clientSecret: value)
    }

    /// Enables or disables a secret (or, with `kind`, an API token: disabling one
    /// revokes it at once).
    public func setSecret(
        _ secretID: UUID, of id: UUID, in tenant: Tenant, kind: ClientSecret.Kind = .clientSecret, enabled: Bool, by caller: Caller
    ) async throws -> ClientSecret {
        let (account, _) = try await guarded(id, in: tenant, by: caller)
        let secrets = try await storeCall { try await storage.secrets(accountID: account.id) }
        guard var secret = secrets.first(where: { $0.id == secretID && $0.kind == kind }) else { throw DomainError(.notFound, Self.notFound(kind)) }
        secret.enabled = enabled
        let updated = secret
        do {
            try await storage.updateSecret(updated)
        } catch let error as StoreError where error.isNotFound {
            throw DomainError(.notFound, Self.notFound(kind))
        } catch is StoreError {
            throw DomainError(.unavailable, "the store is unavailable")
        }
        clients.invalidate(clientID: account.clientID)
        return updated
    }

    /// Deletes a secret (or, with `kind`, an API token).
    public func deleteSecret(_ secretID: UUID, of id: UUID, in tenant: Tenant, kind: ClientSecret.Kind = .clientSecret, by caller: Caller) async throws {
        let (account, _) = try await guarded(id, in: tenant, by: caller)
        let secrets = try await storeCall { try await storage.secrets(accountID: account.id) }
        guard secrets.contains(where: { $0.id == secretID && $0.kind == kind }),
            try await storeCall({ try await storage.deleteSecret(id: secretID, accountID: account.id) })
        else {
            throw DomainError(.notFound, Self.notFound(kind))
        }
        clients.invalidate(clientID: account.clientID)
    }

    // MARK: Keys for private_key_jwt

    public static let maximumKeysPerAccount = 10

    public func keys(of id: UUID, in tenant: Tenant) async throws -> [ClientKey] {
        let account = try await get(id, in: tenant)
        return try await storeCall { try await storage.clientKeys(accountID: account.id) }
    }

    /// Registers a public key for `private_key_jwt`. It must be a public signing JWK
    /// Tessera can verify with, carry a `kid`, and name or imply one algorithm
    /// (stored with `alg` set, so the algorithm stays bound to the key).
    public func addKey(for id: UUID, in tenant: Tenant, jwk: JWK, expiresAt: Date?, by caller: Caller) async throws -> ClientKey {
        let (account, _) = try await guarded(id, in: tenant, by: caller)
        guard !jwk.isPrivate else { throw DomainError.invalid("jwk", "jwk must be a public key: remove d, p and q") }
        guard let kid = jwk.kid, !kid.isEmpty, kid.utf8.count <= 200,
            !kid.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw DomainError.invalid("jwk", "jwk needs a kid of 1–200 characters")
        }
        let verificationKey: VerificationKey
        do {
            verificationKey = try VerificationKey(jwk: jwk)
        } catch let error as JOSEError {
            throw DomainError.invalid("jwk", "jwk cannot be used: \(error.reason)")
        }
        let now = dependencies.now()
        if let expiresAt, expiresAt <= now { throw DomainError.invalid("expires_at", "expires_at must be in the future") }
        var bound = jwk
        bound.alg = verificationKey.algorithm.rawValue
        bound.use = "sig"
        let key = ClientKey(accountID: account.id, kid: kid, jwk: bound, createdAt: now, expiresAt: expiresAt)
        do {
            try await storage.addClientKey(key, limit: Self.maximumKeysPerAccount)
        } catch let error as StoreError where error.isConflict {
            throw DomainError(.conflict, "the account already has a key with kid \"\(kid)\"")
        } catch let error as StoreError where error.isLimitReached {
            throw DomainError(.limitReached, "an account holds at most \(Self.maximumKeysPerAccount) keys")
        } catch is StoreError {
            throw DomainError(.unavailable, "the store is unavailable")
        }
        clients.invalidate(clientID: account.clientID)
        return key
    }

    public func deleteKey(_ kid: String, of id: UUID, in tenant: Tenant, by caller: Caller) async throws {
        let (account, _) = try await guarded(id, in: tenant, by: caller)
        guard try await storeCall({ try await storage.deleteClientKey(kid: kid, accountID: account.id) }) else {
            throw DomainError(.notFound, "key not found")
        }
        clients.invalidate(clientID: account.clientID)
    }

    // MARK: Helpers

    /// The account and the tenant's roles, once the caller may change it: an account
    /// holding a role with `tessera:super` is changed by super admins only.
    func guarded(_ id: UUID, in tenant: Tenant, by caller: Caller) async throws -> (ServiceAccount, [Role]) {
        let account = try await get(id, in: tenant)
        let roles = try await storeCall { try await storage.roles(tenantID: tenant.id) }
        try Self.checkGrant(account.roles + account.projects.map(\.role), of: roles, by: caller)
        return (account, roles)
    }

    static func validateProjects(_ projects: [ServiceAccount.ProjectMembership], catalogue: Set<String>) throws -> [ServiceAccount.ProjectMembership] {
        guard projects.count <= maximumListCount else { throw DomainError.invalid("projects", "at most \(maximumListCount) projects") }
        for project in projects {
            _ = try validateList([project.project], field: "projects", allowEmpty: false)
            guard catalogue.contains(project.role) else {
                throw DomainError.invalid("projects", "unknown role \"\(project.role)\" in project \"\(project.project)\"")
            }
        }
        return projects
    }

    /// RFC 6749 §3.3 scope-token: `%x21 / %x23-5B / %x5D-7E`, at most 100 characters.
    static func isScopeToken(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 100
            && value.utf8.allSatisfy { $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }
    }
}

/// Runs a store call, turning store failures into domain errors.
func storeCall<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as StoreError where error.isNotFound {
        throw DomainError(.notFound, error.message)
    } catch let error as StoreError where error.isConflict {
        throw DomainError(.conflict, error.message)
    } catch is StoreError {
        throw DomainError(.unavailable, "the store is unavailable")
    }
}
