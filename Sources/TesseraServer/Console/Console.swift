import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// The web console under `/console` (docs/console.md): static ES modules and a
/// stylesheet compiled into the binary (``ConsoleAssets``, written by
/// `scripts/console.py` from `console/`), which call the admin API as any client
/// does, and the one route of its own: `POST /console/sign-in`, which redeems a
/// one-time sign-in link's code for an access token.
struct Console: Sendable {
    let tessera: Tessera

    /// No inline script or style, nothing from another origin, never in a frame.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// The headers of every console response.
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: contentSecurityPolicy,
        .xFrameOptions: "DENY",
        .xContentTypeOptions: "nosniff",
        .referrerPolicy: "no-referrer",
        .crossOriginOpenerPolicy: "same-origin",
        .crossOriginResourcePolicy: "same-origin",
    ]

    func register(on router: Router<TesseraRequestContext>) {
        router.get("/console/assets/:file") { request, context in Self.asset(context.parameters.get("file") ?? "", request) }
        // The page itself at "/console" ("/console/" is the same path to the router)
        // and at every path below it, so that each page of the console has a URL
        // that can be bookmarked or reloaded; the page routes by its path.
        router.get("/console") { request, _ in Self.asset("index.html", request) }
        router.get("/console/**") { request, _ in Self.asset("index.html", request) }
        router.post("/console/sign-in") { request, context in await signIn(request, context) }
    }

    /// One compiled-in file, revalidated by its ETag (`Cache-Control: no-cache`),
    /// so a new binary's console is never mixed with an old one's cached modules.
    static func asset(_ name: String, _ request: Request) -> Response {
        guard let asset = ConsoleAssets.files[name] else {
            var problem = Problem.notFound("no such console file")
            problem.headers = securityHeaders
            return problem.response
        }
        var headers = securityHeaders
        headers[.eTag] = asset.etag
        headers[.cacheControl] = "no-cache"
        if let tags = request.headers[.ifNoneMatch], tags.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = asset.contentType
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: asset.body)))
    }

    private struct SignedIn: Encodable {
        let accessToken: String
        let tokenType = "Bearer"
        let expiresIn: Int
        let scope: String

        enum CodingKeys: String, CodingKey {
            case scope
            case accessToken = "access_token"
            case tokenType = "token_type"
            case expiresIn = "expires_in"
        }
    }

    /// `{"code": "tsl_…"}` → an access token for the admin API, or a 400 problem
    /// saying why the link does not work (expired, used, its account disabled).
    func signIn(_ request: Request, _ context: TesseraRequestContext) async -> Response {
        var response: Response
        do {
            var reader = try await JSONBody.read(request, accepting: ["application/json"])
            guard let code = try reader.string("code") else { throw Problem(.badRequest, "code is required", field: "code") }
            try reader.finish()
            let requestID = context.logger[metadataKey: "request_id"].map { "\($0)" }
            let (issued, _) = try await tessera.consoleSignIn.redeem(code, requestID: requestID)
            response = .json(SignedIn(accessToken: issued.accessToken, expiresIn: issued.expiresIn, scope: issued.scope))
        } catch let refused as ConsoleSignIn.Refused {
            response = Problem(.badRequest, refused.description, field: "code").response
        } catch let limited as TokenService.RateLimited {
            response = Problem(.tooManyRequests, "too many tokens for this account", headers: [.retryAfter: "\(limited.retryAfter)"]).response
        } catch let error as OAuthError where error.code == "temporarily_unavailable" {
            response = Problem(.serviceUnavailable, error.errorDescription, headers: [.retryAfter: "1"]).response
        } catch {
            let problem = Problem(error)
            if problem.status == .internalServerError {
                context.logger.error("console sign-in failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            }
            response = problem.response
        }
        for field in Self.securityHeaders { response.headers[field.name] = field.value }
        return response
    }
}

extension HTTPField.Name {
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let crossOriginOpenerPolicy = HTTPField.Name("Cross-Origin-Opener-Policy")!
}
