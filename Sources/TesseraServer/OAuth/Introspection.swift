import Hummingbird
import TesseraCore
import TesseraJOSE

/// `POST /oauth2/introspect` (RFC 7662). The caller authenticates as a client
/// whose roles grant `tessera:introspect`, `tessera:admin` or `tessera:super`.
struct Introspection: Sendable {
    static let maximumBodySize = 32 * 1024

    let tessera: Tessera

    /// The RFC 7662 §2.2 answer for an active token, written directly (it is on a
    /// hot path) rather than through `JSONEncoder`.
    static func active(_ claims: AccessTokenClaims, headers: HTTPFields) -> Response {
        var body = JSONOutput()
        body.beginObject()
        body.member("active", true)
        body.member("scope", claims.scope)
        body.member("client_id", claims.clientID)
        body.member("sub", claims.sub)
        body.member("aud", claims.aud)
        body.member("iss", claims.iss)
        body.member("exp", claims.exp)
        body.member("iat", claims.iat)
        body.member("nbf", claims.nbf)
        body.member("jti", claims.jti)
        // A bound token's binding, for the resource server to check (docs/binding.md).
        body.member("token_type", claims.cnf?.jkt == nil ? "Bearer" : "DPoP")
        if let cnf = claims.cnf {
            body.beginObject("cnf")
            if let jkt = cnf.jkt { body.member("jkt", jkt) }
            if let x5t = cnf.x5tS256 { body.member("x5t#S256", x5t) }
            body.endObject()
        }
        body.member("tenant", claims.tenant)
        body.member("roles", claims.roles)
        body.endObject()
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body.bytes)))
    }

    /// The answer for an active API token: what it may do now, `token_type`
    /// `api_token`, and `exp` only when the token expires (no `aud` or `jti`: it
    /// is not a JWT).
    static func active(_ status: TokenService.APITokenStatus, headers: HTTPFields) -> Response {
        let claims = status.claims
        var body = JSONOutput()
        body.beginObject()
        body.member("active", true)
        body.member("scope", claims.scope)
        body.member("client_id", claims.clientID)
        body.member("sub", claims.sub)
        body.member("iss", claims.iss)
        if status.token.expiresAt != nil { body.member("exp", claims.exp) }
        body.member("iat", claims.iat)
        body.member("token_type", "api_token")
        body.member("tenant", claims.tenant)
        body.member("roles", claims.roles)
        body.member("name", status.token.name)
        body.endObject()
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body.bytes)))
    }

    private struct Inactive: Encodable {
        let active = false
    }

    func handle(_ request: Request, context: TesseraRequestContext) async -> Response {
        do {
            let form = try await FormBody.read(request, upTo: Self.maximumBodySize)
            let caller = try await ClientCredentials.authenticate(request, form: form, peer: context.peer, with: tessera.tokens)
            guard TokenStatusService.mayIntrospect(caller.record) else {
                throw OAuthError.unauthorizedClient("the client may not introspect tokens")
            }
            guard let token = form["token"] else { throw OAuthError.invalidRequest("token is missing") }
            let headers: HTTPFields = [.cacheControl: "no-store", .pragma: "no-cache"]
            // An API token is told from a JWT by its shape (`token_type_hint` is only a
            // hint, RFC 7662 §2.1, and either value is accepted).
            if SecretFormat.APIToken.isWellFormed(token) {
                guard let status = try await tessera.tokens.introspect(apiToken: token, for: caller.record) else {
                    return .json(Inactive(), headers: headers)
                }
                return Self.active(status, headers: headers)
            }
            guard let claims = try await tessera.tokenStatus.introspect(token, for: caller.record) else {
                return .json(Inactive(), headers: headers)
            }
            return Self.active(claims, headers: headers)
        } catch let error as OAuthError {
            return error.response(status: error.code == "unauthorized_client" ? .forbidden : nil)
        } catch let throttled as TokenService.Throttled {
            return throttled.response
        } catch let error as BodyTooLarge {
            return OAuthError.invalidRequest(error.description).response(status: .contentTooLarge)
        } catch {
            return OAuthError.temporarilyUnavailable("the token store is unavailable").response()
        }
    }
}
