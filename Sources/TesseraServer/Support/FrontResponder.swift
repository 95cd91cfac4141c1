import Dispatch
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization
import TesseraCore

/// Tessera's router behind ``FrontResponder``: what `Application(router:)` serves.
public struct TesseraRouter: HTTPResponderBuilder {
    let router: Router<TesseraRequestContext>
    let requestIDs: RequestIDs
    let metrics: RequestMetrics?
    var trustedProxies = TrustedProxies()
    /// The token endpoint the router serves, which ``TokenFastPath`` answers from too.
    var token: TokenEndpoint?

    /// What ``TokenFastPath`` answers with: the router's token endpoint, request ids and metrics.
    func fastLane(dates: HTTPDateCache) -> TokenFastLane? {
        token.map { TokenFastLane(endpoint: $0, requestIDs: requestIDs, metrics: metrics, trustedProxies: trustedProxies, dates: dates) }
    }

    public func buildResponder() -> FrontResponder<RouterResponder<TesseraRequestContext>> {
        FrontResponder(routes: router.buildResponder(), requestIDs: requestIDs, metrics: metrics, trustedProxies: trustedProxies)
    }
}

/// What every request passes before and after its route: a request id, the
/// request metrics, and errors turned into responses that leak nothing.
///
/// One layer in front of the router rather than three router middlewares: each
/// middleware costs several suspension points per request (its own call and the
/// closure to the next one), and on NIO's event loops every suspension point is a
/// job enqueued on the loop. The three as one take about fifteen of those off a
/// token request.
public struct FrontResponder<Routes: HTTPResponder>: HTTPResponder where Routes.Context == TesseraRequestContext {
    let routes: Routes
    let requestIDs: RequestIDs
    let metrics: RequestMetrics?
    /// Whose `Forwarded` and `X-Forwarded-For` name the client (docs/binding.md).
    let trustedProxies: TrustedProxies

    public func respond(to request: Request, context: TesseraRequestContext) async throws -> Response {
        let id = requestIDs.id(for: request)
        var context = context
        if !trustedProxies.isEmpty, let peer = context.remoteAddress?.ipAddress {
            let client = trustedProxies.clientAddress(peer: peer, headers: request.headers)
            if client != peer { context.forwardedFor = client }
        }
        context.logger[metadataKey: "request_id"] = "\(id)"
        let measurement = metrics?.start(request)
        var response: Response
        do {
            response = try await routes.respond(to: request, context: context)
            // No route: Hummingbird's router has answered with its own body.
            if response.status == .notFound && context.endpointPath == Self.noRoute { throw HTTPError(.notFound) }
            measurement?.finish(route: context.endpointPath, status: response.status)
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            measurement?.fail(route: context.endpointPath, status: status)
            response = Self.response(for: error, request: request, context: context)
        }
        response.headers[.requestID] = id
        return response
    }

    /// The route Hummingbird's router records, for its metrics, when no route
    /// matches; it then answers 404 itself, with its own body, before anything
    /// outside the router sees an error.
    static var noRoute: String { "NotFound" }

    /// Hummingbird's own HTTP errors keep their status; anything else is a 500
    /// problem without detail, logged with the request id.
    static func response(for error: any Error, request: Request, context: TesseraRequestContext) -> Response {
        if let error = error as? HTTPError {
            let detail = error.status == .notFound ? "no route for \(request.method.rawValue) \(request.uri.path)" : error.status.reasonPhrase
            return Problem(error.status, detail).response
        }
        context.logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        return Problem(.internalServerError, "internal error").response
    }
}
