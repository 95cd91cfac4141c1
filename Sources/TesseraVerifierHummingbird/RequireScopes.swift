import Hummingbird
import TesseraVerifier

/// Lets a request through only when its verified token holds every scope given,
/// else 403 with `Bearer error="insufficient_scope", scope="…"` (RFC 6750 §3.1).
/// Place it after ``BearerTokenMiddleware``.
public struct RequireScopes<Context: VerifiedTokenRequestContext>: RouterMiddleware {
    public let scopes: Set<String>
    public let realm: String

    public init(_ scopes: String..., realm: String = "api") {
        self.scopes = Set(scopes)
        self.realm = realm
    }

    public func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = context.verifiedToken else { return BearerChallenge.missingCredentials(realm: realm) }
        guard scopes.isSubset(of: token.scopes) else {
            return BearerChallenge.response(
                .forbidden, scheme: BearerChallenge.scheme(of: token), realm: realm, error: "insufficient_scope",
                description: "the access token lacks a required scope", scope: scopes.sorted().joined(separator: " ")
            )
        }
        return try await next(request, context)
    }
}
