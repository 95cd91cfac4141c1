import Foundation
import TesseraJOSE

/// Introspection (RFC 7662) and revocation (RFC 7009) of this issuer's access tokens.
public struct TokenStatusService: Sendable {
    let validator: AccessTokenValidator
    let clients: ClientDirectory
    let revocations: any RevocationStorage
    let dependencies: Dependencies

    public init(validator: AccessTokenValidator, clients: ClientDirectory, revocations: any RevocationStorage, dependencies: Dependencies) {
        self.validator = validator
        self.clients = clients
        self.revocations = revocations
        self.dependencies = dependencies
    }

    /// Whether `caller` may introspect at all: it holds `tessera:introspect`,
    /// `tessera:admin` or `tessera:super` through its roles.
    public static func mayIntrospect(_ caller: ClientRecord) -> Bool {
        !caller.allowedScopes.isDisjoint(with: [TesseraScope.introspect, TesseraScope.admin, TesseraScope.superAdmin])
    }

    /// The claims of `token` when it is active for `caller`, else `nil`.
    ///
    /// Inactive: not signed here, expired, not yet valid, revoked, of an account
    /// that can no longer authenticate, or of another tenant than the caller's
    /// (unless the caller holds `tessera:super`). RFC 7662 §2.2 asks for nothing
    /// more than `active: false` in every such case, so none is told apart.
    public func introspect(_ token: String, for caller: ClientRecord) async throws -> AccessTokenClaims? {
        let principal: Principal
        do {
            principal = try await validator.validate(token, presented: nil)
        } catch is AccessTokenValidator.Rejection {
            return nil
        }
        let sameTenant = principal.tenantID == caller.tenant.id
        guard sameTenant || caller.allowedScopes.contains(TesseraScope.superAdmin) else { return nil }
        return principal.claims
    }

    /// Revokes `token` on behalf of `caller` (RFC 7009 §2.1).
    ///
    /// A token that is not this issuer's, or is malformed, is ignored, as §2.2 says.
    /// The owning client may revoke its own tokens; an admin of the token's tenant
    /// (or a super admin) may revoke any of that tenant's. Anyone else gets
    /// `unauthorized_client`.
    public func revoke(_ token: String, by caller: ClientRecord) async throws {
        guard let claims = try? validator.signedClaims(token), let tenantID = UUID(uuidString: claims.tenant) else { return }
        let owns = claims.clientID == caller.account.clientID
        let administers =
            caller.allowedScopes.contains(TesseraScope.superAdmin)
            || (caller.allowedScopes.contains(TesseraScope.admin) && caller.tenant.id == tenantID)
        guard owns || administers else {
            throw OAuthError.unauthorizedClient("the token was not issued to this client")
        }
        let expiresAt = Date(timeIntervalSince1970: TimeInterval(claims.exp))
        guard expiresAt > dependencies.now().addingTimeInterval(-60) else { return }
        do {
            try await revocations.revokeToken(jti: claims.jti, tenantID: tenantID, expiresAt: expiresAt, revokedAt: dependencies.now())
        } catch {
            throw OAuthError.temporarilyUnavailable("the revocation could not be stored")
        }
    }
}
