import Dispatch
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization
import TesseraCore

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

        /// Ends a measurement without recording a response: another path answers
        /// the request and measures it itself.
        func abandon() { active.decrement() }

        /// Records an error thrown instead of a response.
        func fail(route: String?, status: HTTPResponse.Status) {
            let endpoint = metrics.endpoint(Endpoint(route: route ?? "NotFound", method: method, status: status))
            endpoint.requests.increment()
            endpoint.errors.increment()
            active.decrement()
        }
    }

    func start(_ request: Request) -> Measurement { start(method: request.method) }

    func start(method requestMethod: HTTPRequest.Method) -> Measurement {
        let method = Self.dimension(requestMethod)
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
