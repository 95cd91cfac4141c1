import Hummingbird
import TesseraVerifier

/// Lets a request through only when its token belongs to one of the given tenants,
/// else 403 `insufficient_scope`. Place it after ``BearerTokenMiddleware``.
public struct RequireTenant<Context: VerifiedTokenRequestContext>: RouterMiddleware {
    public let tenants: Set<String>
    public let realm: String

    public init(_ tenants: String..., realm: String = "api") {
        self.tenants = Set(tenants)
        self.realm = realm
    }

    public func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = context.verifiedToken else { return BearerChallenge.missingCredentials(realm: realm) }
        guard tenants.contains(token.tenant) else {
            return BearerChallenge.response(
                .forbidden, scheme: BearerChallenge.scheme(of: token), realm: realm, error: "insufficient_scope",
                description: "the access token is for another tenant")
        }
        return try await next(request, context)
    }
}
