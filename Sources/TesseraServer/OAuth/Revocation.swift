import Hummingbird
import TesseraCore
import TesseraJOSE

/// `POST /oauth2/revoke` (RFC 7009): the owning client, or an admin of the
/// token's tenant, revokes an access token; introspection and the admin API
/// refuse it from then on, until it would have expired anyway.
struct Revocation: Sendable {
    static let maximumBodySize = 32 * 1024

    let tessera: Tessera

    func handle(_ request: Request, context: TesseraRequestContext) async -> Response {
        do {
            let form = try await FormBody.read(request, upTo: Self.maximumBodySize)
            let caller = try await ClientCredentials.authenticate(request, form: form, peer: context.peer, with: tessera.tokens)
            guard let token = form["token"] else { throw OAuthError.invalidRequest("token is missing") }
            try await tessera.tokenStatus.revoke(token, by: caller.record)
            // RFC 7009 §2.2: 200 whether or not the token was valid.
            return Response(status: .ok, headers: [.cacheControl: "no-store", .pragma: "no-cache"])
        } catch let error as OAuthError {
            return error.response()
        } catch let throttled as TokenService.Throttled {
            return throttled.response
        } catch let error as BodyTooLarge {
            return OAuthError.invalidRequest(error.description).response(status: .contentTooLarge)
        } catch {
            return OAuthError.temporarilyUnavailable("the token store is unavailable").response()
        }
    }
}
