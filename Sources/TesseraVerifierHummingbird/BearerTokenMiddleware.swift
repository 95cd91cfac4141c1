import Hummingbird
import TesseraVerifier

/// A request context that carries the verified access token of the request.
///
/// ```swift
/// struct AppContext: VerifiedTokenRequestContext {
///     var coreContext: CoreRequestContextStorage
///     var verifiedToken: VerifiedToken?
///     init(source: ApplicationRequestContextSource) {
///         coreContext = .init(source: source)
///     }
/// }
/// ```
public protocol VerifiedTokenRequestContext: RequestContext {
    /// Set by ``BearerTokenMiddleware`` before the route runs.
    var verifiedToken: VerifiedToken? { get set }
}

/// Authenticates `Authorization: Bearer …` with a ``TokenVerifier`` and puts the
/// verified token on the context. Failures answer exactly as RFC 6750 §3 says:
///
/// - no credentials (or another scheme): 401, `WWW-Authenticate: Bearer realm="…"`;
/// - a malformed header: 400, `Bearer realm="…", error="invalid_request"`;
/// - a token that does not verify: 401, `Bearer realm="…", error="invalid_token", error_description="…"`,
///   the description saying nothing that helps an attacker (the reason is logged instead);
/// - the issuer unreachable (keys, or introspection when it is needed): 503.
///
/// ```swift
/// let verifier = TokenVerifier(issuer: "https://auth.example.com", audience: "https://orders.example.com")
/// let orders = router.group("orders")
///     .add(middleware: BearerTokenMiddleware(verifier: verifier))
///     .add(middleware: RequireScopes("orders:read"))
/// ```
public struct BearerTokenMiddleware<Context: VerifiedTokenRequestContext>: RouterMiddleware {
    public let verifier: TokenVerifier
    public let realm: String
    /// Asks the issuer about every token of these routes when the verifier is hybrid.
    public let sensitive: Bool

    public init(verifier: TokenVerifier, realm: String = "api", sensitive: Bool = false) {
        self.verifier = verifier
        self.realm = realm
        self.sensitive = sensitive
    }

    public func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            return BearerChallenge.response(.unauthorized, realm: realm)
        }
        let parts = header.split(separator: " ", omittingEmptySubsequences: true)
        guard let scheme = parts.first, scheme.lowercased() == "bearer" else {
            return BearerChallenge.response(.unauthorized, realm: realm)
        }
        guard parts.count == 2, BearerChallenge.isToken68(parts[1]) else {
            return BearerChallenge.response(.badRequest, realm: realm, error: "invalid_request", description: "the Authorization header is malformed")
        }
        var context = context
        do {
            context.verifiedToken = try await verifier.verify(String(parts[1]), sensitive: sensitive)
        } catch let error as TokenVerificationError where error.code == .keysUnavailable || error.code == .introspectionUnavailable {
            context.logger.error("cannot verify tokens: the issuer is unavailable", metadata: ["reason": "\(error.reason)"])
            return Response(status: .serviceUnavailable, headers: [.retryAfter: "5"])
        } catch {
            context.logger.debug("bearer token refused", metadata: ["reason": "\(error)"])
            return BearerChallenge.response(.unauthorized, realm: realm, error: "invalid_token", description: "the access token is invalid or expired")
        }
        return try await next(request, context)
    }
}

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
        guard let token = context.verifiedToken else { return BearerChallenge.response(.unauthorized, realm: realm) }
        guard scopes.isSubset(of: token.scopes) else {
            return BearerChallenge.response(
                .forbidden, realm: realm, error: "insufficient_scope", description: "the access token lacks a required scope",
                scope: scopes.sorted().joined(separator: " ")
            )
        }
        return try await next(request, context)
    }
}

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
        guard let token = context.verifiedToken else { return BearerChallenge.response(.unauthorized, realm: realm) }
        guard tenants.contains(token.tenant) else {
            return BearerChallenge.response(.forbidden, realm: realm, error: "insufficient_scope", description: "the access token is for another tenant")
        }
        return try await next(request, context)
    }
}

enum BearerChallenge {
    static func response(
        _ status: HTTPResponse.Status, realm: String, error: String? = nil, description: String? = nil, scope: String? = nil
    ) -> Response {
        var challenge = #"Bearer realm="\#(realm)""#
        if let error { challenge += #", error="\#(error)""# }
        if let description { challenge += #", error_description="\#(description)""# }
        if let scope { challenge += #", scope="\#(scope)""# }
        var body = ""
        if let error {
            body = #"{"error":"\#(error)""# + (description.map { #","error_description":"\#($0)""# } ?? "") + "}"
        }
        var headers: HTTPFields = [.wwwAuthenticate: challenge, .cacheControl: "no-store"]
        if !body.isEmpty { headers[.contentType] = "application/json" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
    static func isToken68(_ token: Substring) -> Bool {
        var sawPadding = false
        for byte in token.utf8 {
            if byte == UInt8(ascii: "=") {
                sawPadding = true
                continue
            }
            if sawPadding { return false }
            let allowed =
                (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || [UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/")].contains(byte)
            if !allowed { return false }
        }
        return !token.isEmpty && token.first != "="
    }
}
