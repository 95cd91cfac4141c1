import Foundation
import Logging
import TesseraJOSE

/// The domain wired together: one store, one key ring, the caches and the use
/// cases. The HTTP layer and the CLI build one of these and call into it.
public struct Tessera: Sendable {
    /// The public URL of the issuer, without a trailing slash (`iss` of every token).
    public let issuer: String
    public let storage: any Storage
    public let keyRing: KeyRing
    public let clients: ClientDirectory
    public let usage: UsageRecorder
    public let tokens: TokenService
    public let accounts: ServiceAccountService
    public let tenants: TenantService
    public let roles: RoleService
    public let audit: AuditLog
    public let validator: AccessTokenValidator
    public let tokenStatus: TokenStatusService
    /// One-time sign-in links for the web console.
    public let consoleSignIn: ConsoleSignIn
    /// Outside issuers' tokens exchanged for Tessera's (docs/federation.md).
    public let federation: FederationService
    public let federatedCredentials: FederatedCredentialService
    /// The outside issuers' keys, as fetched and cached.
    public let federatedKeys: FederatedKeys
    /// The denylist of revoked tokens: the store itself when it is shared (it feeds
    /// changes to several processes), else a ``RevocationList`` in front of it.
    public let revocations: any RevocationStorage
    public let dependencies: Dependencies
    /// Checks DPoP proofs sent to Tessera's own endpoints (docs/binding.md).
    public let dpop: DPoPValidator

    public init(
        issuer: String, storage: any Storage, masterKey: MasterKey,
        dependencies: Dependencies = .live, clientCacheTTL: TimeInterval = 30,
        throttle: AuthenticationThrottle.Policy? = AuthenticationThrottle.Policy(),
        tokenRateLimit: Double? = nil, maximumAssertionLifetime: Int64 = ClientAssertion.defaultMaximumLifetime,
        federationPolicy: FederationURLPolicy = FederationURLPolicy(), federationFetch: FederatedKeys.Fetch? = nil,
        dpopNonces: Bool = false, dpopProofMaximumAge: Int64 = 300
    ) {
        dpop = DPoPValidator(
            replay: storage, dependencies: dependencies, maximumAge: dpopProofMaximumAge,
            nonces: dpopNonces ? DPoPValidator.Nonces(masterKey: masterKey) : nil)
        let issuer = Tessera.normalizeIssuer(issuer)
        self.issuer = issuer
        self.storage = storage
        self.dependencies = dependencies
        keyRing = KeyRing(storage: storage, masterKey: masterKey)
        clients = ClientDirectory(storage: storage, timeToLive: clientCacheTTL)
        usage = UsageRecorder(storage: storage)
        tokens = TokenService(
            issuer: issuer, clients: clients, keyRing: keyRing, usage: usage, replay: storage, dependencies: dependencies,
            throttle: throttle.map { AuthenticationThrottle(policy: $0) },
            rateLimiter: tokenRateLimit.map { TokenRateLimiter(rate: $0) }, maximumAssertionLifetime: maximumAssertionLifetime
        )
        accounts = ServiceAccountService(storage: storage, clients: clients, dependencies: dependencies)
        tenants = TenantService(storage: storage, clients: clients, dependencies: dependencies)
        roles = RoleService(storage: storage, clients: clients)
        audit = AuditLog(storage: storage, dependencies: dependencies)
        let revocations: any RevocationStorage = storage is any ChangeFeed ? storage : RevocationList(storage: storage)
        self.revocations = revocations
        validator = AccessTokenValidator(issuer: issuer, keyRing: keyRing, clients: clients, revocations: revocations, dependencies: dependencies)
        tokenStatus = TokenStatusService(validator: validator, clients: clients, revocations: revocations, dependencies: dependencies)
        consoleSignIn = ConsoleSignIn(
            issuer: issuer, masterKey: masterKey, clients: clients, tokens: tokens, spent: storage, audit: audit, dependencies: dependencies
        )
        let now = dependencies.now
        federatedKeys = FederatedKeys(policy: federationPolicy, now: { now() }, fetch: federationFetch ?? Self.cannotFetch)
        federation = FederationService(
            issuer: issuer, storage: storage, clients: clients, keys: federatedKeys, validator: validator, audit: audit, dependencies: dependencies
        )
        federatedCredentials = FederatedCredentialService(
            issuer: issuer, accounts: accounts, storage: storage, policy: federationPolicy, dependencies: dependencies)
    }

    /// Loads the signing keys, generating a key for `signingAlgorithm` on first
    /// start, and the in-memory denylist when there is one.
    public func start(signingAlgorithm: JWSAlgorithm) async throws {
        try await keyRing.load(generating: signingAlgorithm, now: dependencies.now())
        if let list = revocations as? RevocationList { try await list.load(now: dependencies.now()) }
    }

    /// Records key changes in the audit log (they belong to no tenant).
    public func audit(_ changes: [KeyChange], actor: String) async {
        for change in changes where change.isChange {
            try? await audit.record(
                AuditEvent(
                    tenantID: nil, actor: actor, action: change.action, resourceType: "signing_key", resourceID: change.kid,
                    outcome: .success, status: 200, requestID: nil, at: dependencies.now()
                ))
        }
    }

    /// Without an HTTP client, only credentials with inline keys can be used.
    private static let cannotFetch: FederatedKeys.Fetch = { url in
        throw FederatedKeys.Unavailable("this process fetches no URLs (\(url))")
    }

    /// `issuer` without trailing slashes.
    public static func normalizeIssuer(_ issuer: String) -> String {
        var value = issuer
        while value.hasSuffix("/") { value.removeLast() }
        return value
    }
}
