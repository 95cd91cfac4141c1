import Foundation

/// Service-account use cases.
public struct ServiceAccountService: Sendable {
    public static let maximumNameLength = 100
    public static let maximumDescriptionLength = 500
    public static let maximumListCount = 50
    public static let maximumItemLength = 200

    let storage: any TenantStorage & ServiceAccountStorage & ClientKeyStorage
    let clients: ClientDirectory
    let dependencies: Dependencies

    public init(storage: any TenantStorage & ServiceAccountStorage & ClientKeyStorage, clients: ClientDirectory, dependencies: Dependencies) {
        self.storage = storage
        self.clients = clients
        self.dependencies = dependencies
    }

    /// Creates an account in `tenant` with one secret named `default`.
    ///
    /// Validates every field (naming the one that fails), checks roles against the
    /// tenant's catalogue, and stores account and secret in one durable write.
    public func create(in tenant: Tenant, _ input: NewServiceAccount, by caller: Caller) async throws -> CreatedServiceAccount {
        let now = dependencies.now()
        let name = try input.name.map { try Self.validateName($0) }
        if let description = input.description { try Self.validateDescription(description) }
        let roles = try Self.validateList(input.roles ?? [Role.defaultRoleName], field: "roles", allowEmpty: false)
        let tenantRoles = try await storeCall { try await storage.roles(tenantID: tenant.id) }
        let catalogue = Set(tenantRoles.map(\.name))
        if let unknown = roles.first(where: { !catalogue.contains($0) }) {
            throw DomainError.invalid("roles", "unknown role \"\(unknown)\"")
        }
        try Self.checkGrant(roles + (input.projects ?? []).map(\.role), of: tenantRoles, by: caller)
        let groups = try Self.validateList(input.groups ?? [], field: "groups", allowEmpty: true)
        let audiences = try Self.validateList(input.audiences ?? [], field: "audiences", allowEmpty: true)
        let projects = try Self.validateProjects(input.projects ?? [], catalogue: catalogue)
        if let expiresAt = input.expiresAt, expiresAt <= now {
            throw DomainError.invalid("expires_at", "expires_at must be in the future")
        }

        let secretValue = SecretFormat.make(randomBytes: dependencies.randomBytes(32))
        let accountID = dependencies.uuid()
        let secret = ClientSecret(
            id: dependencies.uuid(), accountID: accountID, name: "default",
            hint: SecretFormat.hint(secretValue), digest: SecretFormat.digest(secretValue), createdAt: now
        )
        var account = ServiceAccount(
            id: accountID, tenantID: tenant.id, clientID: dependencies.clientID(),
            name: name ?? Self.generatedName(at: now), description: input.description,
            roles: roles, groups: groups, projects: projects, audiences: audiences,
            expiresAt: input.expiresAt, binding: try input.binding.validated(), createdAt: now, updatedAt: now, createdBy: caller.id
        )
        // A generated name may meet another created in the same second, and a
        // descriptive one another account's: then it takes a random suffix (40
        // bits), so any number of such creations succeed. A conflict that outlasts
        // a few suffixes is not the name's.
        var attempts = 0
        while true {
            do {
                let issued = input.issuesSecret ? secret : nil
                let stored = try await storage.createServiceAccount(account, secret: issued, limit: tenant.accountLimit)
                clients.invalidate(clientID: stored.clientID)
                return CreatedServiceAccount(account: stored, secret: issued, clientSecret: issued == nil ? nil : secretValue)
            } catch let error as StoreError where error.isConflict {
                attempts += 1
                guard name == nil || input.nameMayRepeat, attempts <= 5 else {
                    throw DomainError(.conflict, "a service account named \"\(account.name)\" already exists")
                }
                let suffix = Crockford32.encode(dependencies.randomBytes(16)).suffix(8).lowercased()
                let base = name.map { String($0.prefix(Self.maximumNameLength - 9)) } ?? Self.generatedName(at: now)
                account.name = base + "-" + suffix
            } catch let error as StoreError where error.isLimitReached {
                throw DomainError(.limitReached, "the tenant's limit of \(tenant.accountLimit ?? 0) service accounts is reached")
            } catch let error as StoreError where error.isUnavailable {
                throw DomainError(.unavailable, "the store is unavailable")
            }
        }
    }

    /// Refuses roles that carry `tessera:super` unless the caller holds it: a
    /// tenant admin must not mint an account that reaches every tenant.
    static func checkGrant(_ names: [String], of roles: [Role], by caller: Caller) throws {
        guard !caller.isSuperAdmin else { return }
        let granted = Set(names)
        if let role = roles.first(where: { granted.contains($0.name) && $0.scopes.contains(TesseraScope.superAdmin) }) {
            throw DomainError(.forbidden, "only a super admin may grant the role \"\(role.name)\"")
        }
    }

    /// `service-account-YYYYMMDDHHMMSS` in UTC (docs/ARCHITECTURE.md §4).
    public static func generatedName(at date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "service-account-" + pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2) + pad(c.hour, 2) + pad(c.minute, 2) + pad(c.second, 2)
    }

    /// A description: at most 500 characters; no control characters but tab and line
    /// feed, so that none can move a terminal's cursor or rewrite a log line when shown.
    static func validateDescription(_ description: String) throws {
        guard description.count <= maximumDescriptionLength else {
            throw DomainError.invalid("description", "description must be at most \(maximumDescriptionLength) characters")
        }
        guard !description.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\t" && $0 != "\n" }) else {
            throw DomainError.invalid("description", "description must not contain control characters other than tab and line feed")
        }
    }

    /// A name: 1–100 characters after trimming, no control characters.
    static func validateName(_ name: String) throws -> String {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw DomainError.invalid("name", "name must not be empty") }
        guard trimmed.count <= maximumNameLength else {
            throw DomainError.invalid("name", "name must be at most \(maximumNameLength) characters")
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw DomainError.invalid("name", "name must not contain control characters")
        }
        return trimmed
    }

    /// A list of short, non-empty strings without control characters; duplicates folded.
    static func validateList(_ values: [String], field: String, allowEmpty: Bool) throws -> [String] {
        guard allowEmpty || !values.isEmpty else { throw DomainError.invalid(field, "\(field) must not be empty") }
        guard values.count <= maximumListCount else { throw DomainError.invalid(field, "at most \(maximumListCount) \(field)") }
        var result: [String] = []
        for value in values {
            guard !value.isEmpty, value.count <= maximumItemLength,
                !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else {
                throw DomainError.invalid(field, "each of \(field) must be 1–\(maximumItemLength) characters without control characters")
            }
            if !result.contains(value) { result.append(value) }
        }
        return result
    }
}
