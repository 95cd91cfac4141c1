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
}

/// Validates access tokens of this issuer for its own APIs: signature with the
/// key ring (algorithm bound to the key), `typ`, `iss`, `exp`, `nbf`, and that
/// the account behind it can still authenticate.
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
            guard jws.header.typ?.lowercased() == "at+jwt" else { throw Rejection(description: "typ is not at+jwt") }
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
    /// lifetime, not revoked, and of an account that can still authenticate.
    public func validate(_ token: String) async throws -> Principal {
        let claims = try signedClaims(token)
        let nowDate = dependencies.now()
        let now = Int64(nowDate.timeIntervalSince1970)
        guard claims.exp + leeway > now else { throw Rejection(description: "token expired") }
        guard claims.nbf - leeway <= now else { throw Rejection(description: "token not yet valid") }
        let principal = try Self.principal(of: claims)
        guard try await !revocations.isTokenRevoked(jti: claims.jti) else { throw Rejection(description: "token revoked") }
        guard let client = try await clients.client(id: claims.clientID, now: nowDate),
              client.account.id == principal.accountID, client.account.isUsable(at: nowDate)
        else {
            throw Rejection(description: "the account is no longer active")
        }
        return principal
    }

    /// The principal a token's claims name, without checking the token: for a
    /// client that authenticated directly and had its claims minted just now.
    public static func principal(of claims: AccessTokenClaims) throws -> Principal {
        guard let accountID = UUID(uuidString: claims.sub), let tenantID = UUID(uuidString: claims.tenant) else {
            throw Rejection(description: "subject or tenant is not a UUID")
        }
        return Principal(
            accountID: accountID, clientID: claims.clientID, tenantID: tenantID,
            scopes: claims.scopes, roles: claims.roles, claims: claims
        )
    }
}
