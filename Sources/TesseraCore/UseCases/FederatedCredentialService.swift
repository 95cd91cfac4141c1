import Foundation
import TesseraJOSE

/// The fields an administrator gives for a federated credential (docs/federation.md).
public struct NewFederatedCredential: Sendable, Hashable {
    public var name: String
    public var issuer: String
    public var audience: String?
    public var subject: String?
    public var claims: [String: String]
    public var scopes: [String]?
    public var jwksURI: String?
    /// The issuer's keys inline, as a JWK Set's JSON text.
    public var jwks: String?
    public var allowWithoutJTI: Bool

    public init(
        name: String, issuer: String, audience: String? = nil, subject: String? = nil, claims: [String: String] = [:],
        scopes: [String]? = nil, jwksURI: String? = nil, jwks: String? = nil, allowWithoutJTI: Bool = false
    ) {
        self.name = name
        self.issuer = issuer
        self.audience = audience
        self.subject = subject
        self.claims = claims
        self.scopes = scopes
        self.jwksURI = jwksURI
        self.jwks = jwks
        self.allowWithoutJTI = allowWithoutJTI
    }
}

/// Federated credentials of service accounts: listed, added and deleted by
/// administrators, with the same authority rules as the account's other credentials.
public struct FederatedCredentialService: Sendable {
    public static let maximumPerAccount = 20
    static let maximumConditions = 16
    static let maximumLength = 512
    /// Claims with rules of their own, which a condition may not name.
    static let reservedClaims: Set<String> = ["iss", "aud", "exp", "iat", "nbf", "jti"]

    /// Tessera's issuer URL: the audience a credential expects when it names none.
    let issuer: String
    let accounts: ServiceAccountService
    let storage: any FederatedCredentialStorage
    let policy: FederationURLPolicy
    let dependencies: Dependencies

    public init(
        issuer: String, accounts: ServiceAccountService, storage: any FederatedCredentialStorage, policy: FederationURLPolicy,
        dependencies: Dependencies
    ) {
        self.issuer = issuer
        self.accounts = accounts
        self.storage = storage
        self.policy = policy
        self.dependencies = dependencies
    }

    public func list(of id: UUID, in tenant: Tenant) async throws -> [FederatedCredential] {
        let account = try await accounts.get(id, in: tenant)
        return try await storeCall { try await storage.federatedCredentials(accountID: account.id) }
    }

    /// Validates and stores a credential, naming the field that fails.
    public func add(for id: UUID, in tenant: Tenant, _ input: NewFederatedCredential, by caller: Caller) async throws -> FederatedCredential {
        let (account, _) = try await accounts.guarded(id, in: tenant, by: caller)
        let name = input.name
        guard !name.isEmpty, name.utf8.count <= 64,
            name.utf8.allSatisfy({
                (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
            })
        else {
            throw DomainError.invalid("name", "name must be 1–64 characters of A–Z a–z 0–9 . _ -")
        }
        if let problem = policy.problem(with: input.issuer) { throw DomainError.invalid("issuer", "issuer \(problem)") }
        let issuer = input.issuer
        guard Tessera.normalizeIssuer(issuer) != self.issuer else {
            throw DomainError.invalid("issuer", "issuer is Tessera itself: its own tokens are exchanged without a credential")
        }
        if let audience = input.audience {
            try Self.checkText(audience, field: "audience")
        }
        if let subject = input.subject { try Self.checkText(subject, field: "subject") }
        guard input.claims.count <= Self.maximumConditions else {
            throw DomainError.invalid("claims", "at most \(Self.maximumConditions) claim conditions")
        }
        for (claim, pattern) in input.claims {
            try Self.checkText(claim, field: "claims")
            if claim == "sub" { throw DomainError.invalid("claims", "give the condition on sub as subject") }
            if Self.reservedClaims.contains(claim) { throw DomainError.invalid("claims", "\(claim) has rules of its own and cannot be a condition") }
            try Self.checkText(pattern, field: "claims")
        }
        let conditions = (input.subject.map { [$0] } ?? []) + Array(input.claims.values)
        guard conditions.contains(where: { !Pattern.isWildcardOnly($0) }) else {
            throw DomainError.invalid("subject", "a federated credential needs a condition on subject or claims that is not only *")
        }
        var scopes: [String]?
        if let requested = input.scopes {
            guard requested.count <= ServiceAccountService.maximumListCount,
                requested.allSatisfy(ServiceAccountService.isScopeToken)
            else {
                throw DomainError.invalid("scopes", "scopes must be at most \(ServiceAccountService.maximumListCount) RFC 6749 scope tokens")
            }
            scopes = requested.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        }
        if input.jwksURI != nil, input.jwks != nil { throw DomainError.invalid("jwks", "give jwks or jwks_uri, not both") }
        if let jwksURI = input.jwksURI, let problem = policy.problem(with: jwksURI) {
            throw DomainError.invalid("jwks_uri", "jwks_uri \(problem)")
        }
        var jwks: String?
        if let given = input.jwks {
            guard given.utf8.count <= 64 * 1024 else { throw DomainError.invalid("jwks", "jwks must be at most 64 KiB") }
            do {
                jwks = try FederatedKeys.normalizedInlineJWKS(Array(given.utf8))
            } catch {
                throw DomainError.invalid("jwks", "jwks cannot be used: \(error.description)")
            }
        }
        let credential = FederatedCredential(
            id: dependencies.uuid(), tenantID: tenant.id, accountID: account.id, name: name, issuer: issuer, audience: input.audience ?? self.issuer,
            subject: input.subject, claims: input.claims, scopes: scopes, jwksURI: input.jwksURI, jwks: jwks,
            allowWithoutJTI: input.allowWithoutJTI, createdAt: dependencies.now()
        )
        do {
            try await storage.createFederatedCredential(credential, limit: Self.maximumPerAccount)
        } catch let error as StoreError where error.isConflict {
            throw DomainError(.conflict, "the account already has a federated credential named \"\(name)\"")
        } catch let error as StoreError where error.isLimitReached {
            throw DomainError(.limitReached, "an account holds at most \(Self.maximumPerAccount) federated credentials")
        } catch let error as StoreError where error.isNotFound {
            throw DomainError(.notFound, "service account not found")
        } catch is StoreError {
            throw DomainError(.unavailable, "the store is unavailable")
        }
        return credential
    }

    public func delete(_ credentialID: UUID, of id: UUID, in tenant: Tenant, by caller: Caller) async throws {
        let (account, _) = try await accounts.guarded(id, in: tenant, by: caller)
        guard try await storeCall({ try await storage.deleteFederatedCredential(id: credentialID, accountID: account.id) }) else {
            throw DomainError(.notFound, "federated credential not found")
        }
    }

    /// Text of 1–512 characters without control characters.
    static func checkText(_ value: String, field: String) throws {
        guard !value.isEmpty, value.utf8.count <= maximumLength,
            !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw DomainError.invalid(field, "\(field) values must be 1–\(maximumLength) characters without control characters")
        }
    }
}
