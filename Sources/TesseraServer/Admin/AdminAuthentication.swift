import Hummingbird
import TesseraCore

/// Bearer authentication for the admin API (RFC 6750 §2.1, §3).
struct AdminAuthentication: Sendable {
    let tessera: Tessera

    static let challenge = #"Bearer realm="tessera""#

    /// The principal behind the request's access token.
    func principal(_ request: Request) async throws(Problem) -> Principal {
        guard let header = request.headers[.authorization] else {
            throw Problem(.unauthorized, "an access token is required", headers: [.wwwAuthenticate: Self.challenge])
        }
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw Problem(.unauthorized, "the Authorization header must use the Bearer scheme", headers: [.wwwAuthenticate: Self.challenge])
        }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        do {
            return try await tessera.validator.validate(token)
        } catch is AccessTokenValidator.Rejection {
            throw Problem(
                .unauthorized, "the access token is invalid or expired",
                headers: [.wwwAuthenticate: Self.challenge + #", error="invalid_token", error_description="the access token is invalid or expired""#]
            )
        } catch {
            throw Problem(.serviceUnavailable, "the store is unavailable", headers: [.retryAfter: "1"])
        }
    }

    /// The tenant named by `reference` if `principal` may administer it.
    ///
    /// A tenant that does not exist and one the principal may not see answer the
    /// same 404, so tenants cannot be discovered. A principal of the tenant
    /// without `tessera:admin` gets 403 `insufficient_scope`.
    func tenant(_ reference: String, for principal: Principal) async throws(Problem) -> Tenant {
        let found: Tenant?
        do {
            found = try await tessera.tenants.find(reference)
        } catch {
            throw Problem(.serviceUnavailable, "the store is unavailable", headers: [.retryAfter: "1"])
        }
        guard let tenant = found, principal.isSuperAdmin || principal.tenantID == tenant.id else {
            throw Problem.notFound("tenant not found")
        }
        guard principal.mayAdminister(tenantID: tenant.id) else {
            throw Problem(
                .forbidden, "the access token lacks the scope \(TesseraScope.admin)",
                headers: [.wwwAuthenticate: Self.challenge + #", error="insufficient_scope", scope="\#(TesseraScope.admin)""#]
            )
        }
        return tenant
    }
}
