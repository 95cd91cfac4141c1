import Hummingbird
import TesseraVerifier

/// Authenticates `Authorization: Bearer …` and `Authorization: DPoP …` with a
/// ``TokenVerifier`` and puts the verified token on the context. Failures answer
/// exactly as RFC 6750 §3 and RFC 9449 §7.1 say (docs/binding.md):
///
/// - no credentials (or another scheme): 401 with two challenges,
///   `WWW-Authenticate: Bearer realm="…"` and `WWW-Authenticate: DPoP realm="…", algs="ES256 EdDSA RS256 PS256"`;
/// - a malformed header: 400, `error="invalid_request"` in the scheme's challenge;
/// - a bearer token that does not verify: 401, `Bearer realm="…", error="invalid_token", error_description="…"`,
///   the description saying nothing that helps an attacker (the reason is logged instead);
/// - with the DPoP scheme, a proof that is missing, not the only one, invalid, for
///   another request or replayed: 401, `DPoP realm="…", error="invalid_dpop_proof", error_description="…", algs="…"`;
///   a token that does not verify or whose binding does not hold: the same with
///   `error="invalid_token"`; a DPoP-bound token presented as `Bearer` too;
/// - a certificate-bound token (`cnf.x5t#S256`) without the matching client
///   certificate (``clientCertificate``): 401 `invalid_token` in the scheme's challenge;
/// - the issuer unreachable (keys, or introspection when it is needed), or the DPoP
///   replay cache full: 503 with `Retry-After`.
///
/// The proof's `htu` must be this request's URL: ``publicBaseURL`` + the path, or
/// without it `http://` + `Host` + the path (query and fragment are not compared).
/// Behind a proxy or with TLS, set ``publicBaseURL``.
///
/// ```swift
/// let verifier = TokenVerifier(issuer: "https://auth.example.com", audience: "https://orders.example.com")
/// let orders = router.group("orders")
///     .add(middleware: BearerTokenMiddleware(verifier: verifier, publicBaseURL: "https://orders.example.com"))
///     .add(middleware: RequireScopes("orders:read"))
/// ```
public struct BearerTokenMiddleware<Context: VerifiedTokenRequestContext>: RouterMiddleware {
    public let verifier: TokenVerifier
    public let realm: String
    /// Asks the issuer about every token of these routes when the verifier is hybrid.
    public let sensitive: Bool
    /// The service's URL as its clients address it (`https://orders.example.com`,
    /// or with a path prefix), without a trailing slash: the base of the `htu` a
    /// DPoP proof must name. `nil`: `http://` + the request's `Host`.
    public let publicBaseURL: String?
    /// The DER of the client certificate of the request's connection, for services
    /// that terminate mutual TLS (or read it from a proxy they trust): needed to
    /// accept certificate-bound tokens (RFC 8705 §3). `nil` or answering `nil`: no
    /// certificate, so such tokens are refused.
    public let clientCertificate: (@Sendable (Request, Context) -> [UInt8]?)?

    public init(
        verifier: TokenVerifier, realm: String = "api", sensitive: Bool = false, publicBaseURL: String? = nil,
        clientCertificate: (@Sendable (Request, Context) -> [UInt8]?)? = nil
    ) {
        self.verifier = verifier
        self.realm = realm
        self.sensitive = sensitive
        self.publicBaseURL = publicBaseURL.map(TokenVerifier.normalizeIssuer)
        self.clientCertificate = clientCertificate
    }

    public func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            return BearerChallenge.missingCredentials(realm: realm)
        }
        let parts = header.split(separator: " ", omittingEmptySubsequences: true)
        let scheme: TokenPresentation.Scheme
        switch parts.first?.lowercased() {
        case "bearer": scheme = .bearer
        case "dpop": scheme = .dpop
        default: return BearerChallenge.missingCredentials(realm: realm)
        }
        guard parts.count == 2, BearerChallenge.isToken68(parts[1]) else {
            return BearerChallenge.response(
                .badRequest, scheme: scheme, realm: realm, error: "invalid_request", description: "the Authorization header is malformed")
        }
        let certificate = clientCertificate?(request, context)
        let presentation: TokenPresentation
        switch scheme {
        case .bearer:
            presentation = .bearer(clientCertificate: certificate)
        case .dpop:
            presentation = .dpop(
                proofs: request.headers[values: BearerChallenge.dpopHeader], method: request.method.rawValue, url: url(of: request) ?? "",
                clientCertificate: certificate)
        }
        var context = context
        do {
            context.verifiedToken = try await verifier.verify(String(parts[1]), presentation: presentation, sensitive: sensitive)
        } catch let error as TokenVerificationError where error.code == .keysUnavailable || error.code == .introspectionUnavailable {
            context.logger.error("cannot verify tokens: the issuer is unavailable", metadata: ["reason": "\(error.reason)"])
            return Response(status: .serviceUnavailable, headers: [.retryAfter: "5"])
        } catch let error as TokenVerificationError where error.code == .replayCacheFull {
            context.logger.error("cannot take DPoP proofs: the replay cache is full", metadata: ["reason": "\(error.reason)"])
            return Response(status: .serviceUnavailable, headers: [.retryAfter: "5"])
        } catch let error as TokenVerificationError where error.code == .invalidProof || error.code == .replayedProof {
            context.logger.debug("DPoP proof refused", metadata: ["reason": "\(error)"])
            return BearerChallenge.response(
                .unauthorized, scheme: .dpop, realm: realm, error: "invalid_dpop_proof", description: "the DPoP proof is invalid")
        } catch {
            context.logger.debug("access token refused", metadata: ["reason": "\(error)", "scheme": "\(scheme.rawValue)"])
            // A DPoP-bound token presented as Bearer is told to use DPoP (RFC 9449 §7.2).
            let answering = (error as? TokenVerificationError)?.code == .wrongScheme ? .dpop : scheme
            return BearerChallenge.response(
                .unauthorized, scheme: answering, realm: realm, error: "invalid_token", description: "the access token is invalid or expired")
        }
        return try await next(request, context)
    }

    /// The request's URL as `htu` names it: the public base URL, or `http://` and
    /// the `Host`, then the path (docs/binding.md); `nil` without either.
    func url(of request: Request) -> String? {
        let path = request.uri.path
        if let publicBaseURL { return publicBaseURL + path }
        guard let authority = request.head.authority, !authority.isEmpty else { return nil }
        return "http://" + authority + path
    }
}

enum BearerChallenge {
    /// The DPoP proof header (RFC 9449 §4.1). (HTTPField is named through
    /// HTTPFields: this target links HTTPTypes only through Hummingbird.)
    static let dpopHeader = HTTPFields.Element.Name("DPoP")!

    /// The algorithms a DPoP proof may use, as a challenge's `algs` lists them (RFC 9449 §7.1).
    static let algorithms = TokenPresentation.dpopAlgorithms.joined(separator: " ")

    /// The scheme a verified token was presented with: a DPoP-bound token passes
    /// only as DPoP, any other only as Bearer.
    static func scheme(of token: VerifiedToken) -> TokenPresentation.Scheme {
        token.cnf?.jkt == nil ? .bearer : .dpop
    }

    /// 401 with a challenge for each scheme the middleware takes (docs/binding.md).
    static func missingCredentials(realm: String) -> Response {
        var headers: HTTPFields = [.cacheControl: "no-store"]
        headers[values: .wwwAuthenticate] = [challenge(.bearer, realm: realm), challenge(.dpop, realm: realm)]
        return Response(status: .unauthorized, headers: headers)
    }

    /// `Bearer realm="…", error=…` (RFC 6750 §3) or `DPoP realm="…", error=…, algs="…"` (RFC 9449 §7.1).
    static func challenge(
        _ scheme: TokenPresentation.Scheme, realm: String, error: String? = nil, description: String? = nil, scope: String? = nil
    ) -> String {
        var challenge = #"\#(scheme.rawValue) realm="\#(realm)""#
        if let error { challenge += #", error="\#(error)""# }
        if let description { challenge += #", error_description="\#(description)""# }
        if let scope { challenge += #", scope="\#(scope)""# }
        if scheme == .dpop { challenge += #", algs="\#(algorithms)""# }
        return challenge
    }

    static func response(
        _ status: HTTPResponse.Status, scheme: TokenPresentation.Scheme = .bearer, realm: String, error: String? = nil, description: String? = nil,
        scope: String? = nil
    ) -> Response {
        var body = ""
        if let error {
            body = #"{"error":"\#(error)""# + (description.map { #","error_description":"\#($0)""# } ?? "") + "}"
        }
        var headers: HTTPFields = [
            .wwwAuthenticate: challenge(scheme, realm: realm, error: error, description: description, scope: scope), .cacheControl: "no-store",
        ]
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
