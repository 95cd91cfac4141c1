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

/// Gives every response an `X-Request-ID`: the caller's when it is safe to echo
/// (1–128 characters of `A-Z a-z 0-9 . _ -`), else a new one.
///
/// New ids are 128 bits in 26 Crockford base32 characters: 64 random bits drawn
/// once per server, then a counter that starts at a random value. They are unique
/// and unguessable enough to correlate logs, without drawing random bytes for
/// every request (that was 1–2 % of a request); they guard nothing.
struct RequestIDs: Sendable {
    private let prefix: [UInt8]
    private let counter: Counter

    private final class Counter: Sendable {
        let value: Atomic<UInt64>
        init(_ start: UInt64) { value = Atomic(start) }
    }

    init(dependencies: Dependencies) {
        let random = dependencies.randomBytes(16)
        prefix = Array(random[0..<8])
        counter = Counter(random[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
    }

    /// The caller's id when it is safe to echo, else a new one.
    func id(for request: Request) -> String {
        if let given = request.headers.value(of: .requestID), Self.isSafe(given) { return given }
        return newID()
    }

    /// The next new id.
    func newID() -> String {
        let count = counter.value.wrappingAdd(1, ordering: .relaxed).oldValue
        var bytes = prefix
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: count >> UInt64(shift))) }
        return Crockford32.encode(bytes).lowercased()
    }

    static func isSafe(_ value: String) -> Bool {
        let bytes = value.utf8
        return (1...128).contains(bytes.count)
            && bytes.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }
}

/// Counts requests and their latency per route, method and status, under the
/// names and dimensions of Hummingbird's `MetricsMiddleware` (`hb_requests`,
/// `hb_request_errors`, `http_server_request_duration`,
/// `http_server_active_requests`), so dashboards built for it keep working.
///
/// Hummingbird's middleware records once the body has been written, by wrapping
/// the body in a closure; that takes every response off the path where head, body
/// and end go to the socket in one write, and costs a second `write` system call
/// per request (a tenth of a token's CPU). Every Tessera response is one buffer,
/// so this records when the route returns and leaves the body alone: the
/// duration is the time to the response, without the socket write.
final class RequestMetrics: Sendable {
    private let activeByMethod = Mutex<[String: Meter]>([:])
    private let byEndpoint = Mutex<[Endpoint: EndpointMetrics]>([:])

    /// A request being measured.
    struct Measurement {
        let metrics: RequestMetrics
        let method: String
        let active: Meter
        let start: UInt64

        /// Records a response.
        func finish(route: String?, status: HTTPResponse.Status) {
            let endpoint = metrics.endpoint(Endpoint(route: route ?? "Unknown", method: method, status: status))
            endpoint.requests.increment()
            endpoint.duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
            active.decrement()
        }

        /// Records an error thrown instead of a response.
        func fail(route: String?, status: HTTPResponse.Status) {
            let endpoint = metrics.endpoint(Endpoint(route: route ?? "NotFound", method: method, status: status))
            endpoint.requests.increment()
            endpoint.errors.increment()
            active.decrement()
        }
    }

    func start(_ request: Request) -> Measurement {
        let method = Self.dimension(request.method)
        let active = activeMeter(method)
        active.increment()
        return Measurement(metrics: self, method: method, active: active, start: DispatchTime.now().uptimeNanoseconds)
    }

    /// The methods of RFC 9110 and RFC 5789 by name, any other as `_OTHER` (as
    /// OpenTelemetry's HTTP conventions do): a client picks the method, and every
    /// name would otherwise become a new series.
    static func dimension(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .delete, .connect, .options, .trace, .patch: method.rawValue
        default: "_OTHER"
        }
    }

    struct Endpoint: Hashable {
        let route: String
        let method: String
        let status: HTTPResponse.Status
    }

    struct EndpointMetrics: Sendable {
        let requests: Counter
        let duration: Timer
        let errors: Counter

        init(_ endpoint: Endpoint) {
            let route = ("http.route", endpoint.route)
            let method = ("http.request.method", endpoint.method)
            let status = String(endpoint.status.code)
            requests = Counter(label: "hb.requests", dimensions: [route, method, ("http.response.status_code", status)])
            duration = Timer(
                label: "http.server.request.duration", dimensions: [route, method, ("http.response.status_code", status)],
                preferredDisplayUnit: .seconds
            )
            errors = Counter(label: "hb.request.errors", dimensions: [route, method, ("error.type", status)])
        }
    }

    // The metric handles are made once per method and per endpoint: asking the
    // factory for them on every request would look them up by label each time.

    private func activeMeter(_ method: String) -> Meter {
        activeByMethod.withLock { meters in
            if let meter = meters[method] { return meter }
            let meter = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method)])
            meters[method] = meter
            return meter
        }
    }

    private func endpoint(_ endpoint: Endpoint) -> EndpointMetrics {
        byEndpoint.withLock { cache in
            if let metrics = cache[endpoint] { return metrics }
            let metrics = EndpointMetrics(endpoint)
            cache[endpoint] = metrics
            return metrics
        }
    }
}
