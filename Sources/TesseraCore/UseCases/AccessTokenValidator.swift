import Foundation
import TesseraJOSE

/// The principal behind an access token this issuer signed.
public struct Principal: Sendable, Hashable {
    public let accountID: UUID
    public let clientID: String
    public let tenantID: UUID
    public let scopes: Set<String>
    public let roles: [String]
    public let claims: AccessTokenClaims

    /// Whether the principal may administer `tenantID`: `tessera:super` anywhere,
    /// `tessera:admin` in its own tenant.
    public func mayAdminister(tenantID: UUID) -> Bool {
        scopes.contains(TesseraScope.superAdmin) || (scopes.contains(TesseraScope.admin) && self.tenantID == tenantID)
    }

    public var isSuperAdmin: Bool { scopes.contains(TesseraScope.superAdmin) }

    /// This principal with only the authority the account still has: the
    /// token's scopes and roles that its roles grant now. A demoted account's
    /// token keeps no more than the account, whatever the token says.
    func limited(to client: ClientRecord) -> Principal {
        // The common case: the account still has every scope and role the token
        // names (this issuer writes `scope` single-spaced, so nothing changes).
        if scopes.isSubset(of: client.allowedScopes) && claims.roles.allSatisfy(client.account.roles.contains) {
            return self
        }
        let current = Set(client.account.roles)
        var claims = claims
        claims.scope = claims.scope.split(separator: " ", omittingEmptySubsequences: true)
            .filter { client.allowedScopes.contains(String($0)) }.joined(separator: " ")
        claims.roles = claims.roles.filter { current.contains($0) }
        return Principal(
            accountID: accountID, clientID: clientID, tenantID: tenantID,
            scopes: scopes.intersection(client.allowedScopes), roles: claims.roles, claims: claims
        )
    }
}

/// Validates access tokens of this issuer for its own APIs: signature with the
/// key ring (algorithm bound to the key), `typ`, `iss`, the time claims under
/// ``TimeClaims`` (the policy `TesseraVerifier` applies too), `aud` when the
/// caller names one, and that the account behind it can still authenticate;
/// the principal carries only the authority the account has now.
public struct AccessTokenValidator: Sendable {
    /// Why a token was refused; rendered as RFC 6750 `invalid_token` without detail.
    public struct Rejection: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    private let issuer: String
    private let keyRing: KeyRing
    private let clients: ClientDirectory
    private let revocations: any RevocationStorage
    private let dependencies: Dependencies
    private let leeway: Int64
    /// Signature checks already done, by token text: introspection of a token a
    /// resource server asks about again costs a lookup, not an ECDSA verify.
    private let verified = VerifiedTokenCache<AccessTokenClaims>(capacity: 10_000, lifetime: 300)

    public init(
        issuer: String, keyRing: KeyRing, clients: ClientDirectory, revocations: any RevocationStorage,
        dependencies: Dependencies, leeway: Int64 = 30
    ) {
        self.issuer = issuer
        self.keyRing = keyRing
        self.clients = clients
        self.revocations = revocations
        self.dependencies = dependencies
        self.leeway = leeway
    }

    /// The claims of a token this issuer signed: structure, `typ`, the key-bound
    /// algorithm, the signature and `iss`, but not time or revocation.
    public func signedClaims(_ token: String) throws -> AccessTokenClaims {
        let now = dependencies.now()
        if let claims = verified[token, now] { return claims }
        let claims = try verifySignature(token)
        verified.insert(claims, for: token, expiresAt: claims.exp + leeway, now: now)
        return claims
    }

    private func verifySignature(_ token: String) throws -> AccessTokenClaims {
        guard let keys = keyRing.snapshot?.verificationKeys else { throw Rejection(description: "no keys loaded") }
        let claims: AccessTokenClaims
        do {
            let jws = try CompactJWS(token)
            guard AccessTokenClaims.isAccessTokenType(jws.header.typ) else { throw Rejection(description: "typ is not at+jwt") }
            try jws.verify(with: keys)
            claims = try AccessTokenClaims(json: jws.payload)
        } catch let rejection as Rejection {
            throw rejection
        } catch {
            throw Rejection(description: "token is malformed or its signature does not verify")
        }
        guard claims.iss == issuer else { throw Rejection(description: "issuer mismatch") }
        return claims
    }

    /// The principal behind a token that is valid now: signed here, within its
    /// time claims, meant for `audience` (when given), not revoked, and of an
    /// account that can still authenticate; its scopes and roles are those of the
    /// token that the account's roles still grant.
    ///
    /// - Parameter audience: the value `aud` must contain; `nil` for introspection,
    ///   which answers for tokens of every audience.
    /// - Parameter presented: what the presenter proved it holds (a DPoP key's
    ///   thumbprint, its certificate's); a bound token must match it in every
    ///   member its `cnf` has. `nil` skips that check: only for introspection, which
    ///   answers `cnf` for the resource server to check (docs/binding.md).
    public func validate(_ token: String, audience: String? = nil, presented: Confirmation? = Confirmation()) async throws -> Principal {
        let claims = try signedClaims(token)
        if let presented, let cnf = claims.cnf {
            if let jkt = cnf.jkt, presented.jkt != jkt { throw Rejection(description: "the token is DPoP-bound and no matching proof was presented") }
            if let x5t = cnf.x5tS256, presented.x5tS256 != x5t {
                throw Rejection(description: "the token is bound to a certificate that was not presented")
            }
        }
        let nowDate = dependencies.now()
        if let violation = claims.times.violation(now: TimeClaims.seconds(nowDate), leeway: leeway) {
            throw Rejection(description: violation.description)
        }
        if let audience, !claims.aud.contains(audience) {
            throw Rejection(description: "the token's aud does not include \(audience)")
        }
        let principal = try Self.principal(of: claims)
        guard try await !revocations.isTokenRevoked(jti: claims.jti) else { throw Rejection(description: "token revoked") }
        guard let client = try await clients.client(id: claims.clientID, now: nowDate),
            client.account.id == principal.accountID, client.account.isUsable(at: nowDate)
        else {
            throw Rejection(description: "the account is no longer active")
        }
        return principal.limited(to: client)
    }

    /// The principal a token's claims name, without checking the token: for a
    /// client that authenticated directly and had its claims minted just now.
    public static func principal(of claims: AccessTokenClaims) throws -> Principal {
        guard let accountID = UUID(text: claims.sub), let tenantID = UUID(text: claims.tenant) else {
            throw Rejection(description: "subject or tenant is not a UUID")
        }
        return Principal(
            accountID: accountID, clientID: claims.clientID, tenantID: tenantID,
            scopes: claims.scopes, roles: claims.roles, claims: claims
        )
    }
}
