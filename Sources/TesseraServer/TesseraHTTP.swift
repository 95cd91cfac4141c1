import Hummingbird
import HummingbirdCore
import Logging
import NIOSSL
import Prometheus
import ServiceLifecycle
import TesseraCore

/// Builds Tessera's HTTP surface: the OAuth endpoints, discovery, the admin API,
/// the web console, health and metrics.
public enum TesseraHTTP {
    /// HTTP settings that are not part of the domain.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// `max-age` of the JWKS and metadata responses, in seconds.
        public var jwksMaxAge: Int
        /// How running servers change signing keys; `nil` only reloads them.
        public var keyPolicy: KeyPolicy?
        /// The seed dialects served beside the native API.
        public var dialects: Set<Dialect>
        /// Connection deadlines and the connection limit.
        public var connections: ConnectionLimits
        /// Serve the web console under `/console` (docs/console.md).
        public var console: Bool
        /// Serve HTTPS (and HTTP/2 through ALPN) with this configuration; `nil`
        /// serves plain HTTP/1.1 (docs/binding.md).
        public var tls: TLSConfiguration?
        /// Where client certificates come from.
        public var clientCertificates: ClientCertificates
        /// Whose forwarded client address is believed.
        public var trustedProxies: TrustedProxies
        /// Answer plain client-credentials requests on the event loop, before the
        /// router, when the client is in memory (docs/ARCHITECTURE.md, "The token
        /// fast path"). Plain HTTP/1.1 only; off, the router answers every request.
        public var tokenFastPath = true

        public init(
            host: String = "127.0.0.1", port: Int = 8080, jwksMaxAge: Int = 300, keyPolicy: KeyPolicy? = nil,
            dialects: Set<Dialect> = Set(Dialect.allCases), connections: ConnectionLimits = ConnectionLimits(), console: Bool = true,
            tls: TLSConfiguration? = nil, clientCertificates: ClientCertificates = .none, trustedProxies: TrustedProxies = TrustedProxies()
        ) {
            self.trustedProxies = trustedProxies
            self.tls = tls
            self.clientCertificates = clientCertificates
            self.console = console
            self.connections = connections
            self.host = host
            self.port = port
            self.jwksMaxAge = jwksMaxAge
            self.keyPolicy = keyPolicy
            self.dialects = dialects
        }
    }

    /// Every route, behind the request id, metrics and error handling of ``FrontResponder``.
    ///
    /// - Parameter metrics: the registry `/metrics` renders; `nil` serves no `/metrics`
    ///   and records no request metrics.
    public static func router(
        tessera: Tessera, configuration: Configuration, metrics: PrometheusCollectorRegistry? = nil
    ) -> TesseraRouter {
        // HEAD answers wherever GET does (RFC 9110 §9.3.2): same status and headers, no body.
        let router = Router(context: TesseraRequestContext.self, options: .autoGenerateHeadEndpoints)

        let certificates = configuration.clientCertificates
        let token = TokenEndpoint(tessera: tessera, certificates: certificates)
        router.post("/oauth2/token") { request, context in await token.handle(request, context: context) }
        router.get("/oauth2/token") { _, _ in methodNotAllowed(allow: "POST") }
        let introspection = Introspection(tessera: tessera)
        router.post("/oauth2/introspect") { request, context in await introspection.handle(request, context: context) }
        let revocation = Revocation(tessera: tessera)
        router.post("/oauth2/revoke") { request, context in await revocation.handle(request, context: context) }

        let discovery = Discovery(tessera: tessera, jwksMaxAge: configuration.jwksMaxAge, certificates: certificates.isEnabled)
        router.get("/.well-known/jwks.json") { request, context in discovery.jwks(request, context: context) }
        router.get("/.well-known/oauth-authorization-server") { request, context in discovery.metadata(request, context: context) }
        router.get("/.well-known/openid-configuration") { request, context in discovery.metadata(request, context: context) }

        router.get("/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=3600"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json))
            )
        }

        let health = Health(tessera: tessera)
        router.get("/health/alive") { request, context in health.alive(request, context: context) }
        router.get("/health/ready") { request, context in await health.ready(request, context: context) }

        if let metrics {
            router.get("/metrics") { _, _ in
                var buffer: [UInt8] = []
                metrics.emit(into: &buffer)
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer))
                )
            }
        }

        let admin = AdminAPI(
            tessera: tessera, authentication: AdminAuthentication(tessera: tessera, certificates: certificates), keyPolicy: configuration.keyPolicy,
            jwksMaxAge: configuration.jwksMaxAge
        )
        admin.register(on: router)
        if configuration.console { Console(tessera: tessera).register(on: router) }
        for dialect in Dialect.allCases where configuration.dialects.contains(dialect) {
            dialect.register(on: router, api: admin)
        }
        return TesseraRouter(
            router: router, requestIDs: RequestIDs(dependencies: tessera.dependencies), metrics: metrics.map { _ in RequestMetrics() },
            trustedProxies: configuration.trustedProxies, token: token
        )
    }

    /// The application: the router served on `configuration.host:port` over HTTP/1.1
    /// under ``ConnectionLimits``, with the batched last-used writer and the
    /// key-ring refresher as services.
    public static func application(
        tessera: Tessera, configuration: Configuration, metrics: PrometheusCollectorRegistry? = nil, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }, services: [any Service] = []
    ) throws -> some ApplicationProtocol {
        let limits = configuration.connections
        let registry = ConnectionRegistry(maximum: limits.maximumConnections)
        let routes = router(tessera: tessera, configuration: configuration, metrics: metrics)
        let dates = HTTPDateCache()
        let conformance = ConformanceResponses(requestIDs: routes.requestIDs, dates: dates)
        let server: HTTPServerBuilder
        if let tls = configuration.tls {
            let certificates = configuration.clientCertificates
            // Built once here, so a configuration NIOSSL refuses stops the start.
            _ = try NIOSSLContext(configuration: tls)
            server = HTTPServerBuilder { responder in
                try TLSServerChannel(
                    tls: tls, certificates: certificates, limits: limits, registry: registry, conformance: conformance, responder: responder)
            }
        } else if configuration.tokenFastPath, let lane = routes.fastLane(dates: dates) {
            server = .http1(
                configuration: .init(additionalChannelHandlers: [
                    ConnectionGuard(limits: limits, registry: registry, conformance: conformance), TokenFastPath(lane: lane),
                ]))
        } else {
            server = .http1(
                configuration: .init(additionalChannelHandlers: [ConnectionGuard(limits: limits, registry: registry, conformance: conformance)]))
        }
        var app = Application(
            router: routes,
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
        app.addServices(BackgroundWork(tessera: tessera, logger: logger, keyPolicy: configuration.keyPolicy))
        app.addServices(services)
        return app
    }

    static func methodNotAllowed(allow: String) -> Response {
        Problem(.methodNotAllowed, "use \(allow)", headers: [.allow: allow]).response
    }
}
