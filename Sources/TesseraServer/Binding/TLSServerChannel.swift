import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOHTTP2
import NIOSSL
import NIOTLS

/// The TLS listener's connections (docs/binding.md): TLS 1.2 and 1.3, then HTTP/1.1
/// or HTTP/2 as ALPN decides, as Hummingbird's HTTP/2 upgrade channel serves them,
/// with two differences:
/// - ``TLSConnectionGuard`` comes first, so a connection is counted and has a
///   deadline from its first byte, before and during the handshake, and an HTTP/2
///   connection has one for as long as it lives;
/// - client certificates are asked for with a verification callback that lets any
///   through and keeps the chain on the connection when it reaches a client CA
///   (``ClientCertificates/verifyHandshake(_:)``).
struct TLSServerChannel: HTTPChannelHandler {
    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<NIONegotiatedHTTPVersion<HTTP1Channel.Value, HTTP2Channel.Value>>
        let channel: any Channel
    }

    private let context: NIOSSLContext
    private let certificates: ClientCertificates
    private let limits: ConnectionLimits
    private let connections: ConnectionRegistry
    private let http1: HTTP1Channel
    private let http2: HTTP2Channel

    var responder: Responder { http1.responder }

    init(
        tls: TLSConfiguration, certificates: ClientCertificates, limits: ConnectionLimits, registry: ConnectionRegistry,
        conformance: ConformanceResponses? = nil, responder: @escaping Responder
    ) throws {
        var tls = tls
        tls.applicationProtocols = NIOHTTP2SupportedALPNProtocols
        if certificates.fromHandshake { tls.certificateVerification = .optionalVerification }
        context = try NIOSSLContext(configuration: tls)
        self.certificates = certificates
        self.limits = limits
        connections = ConnectionRegistry(maximum: limits.maximumConnections)
        // Each HTTP/1.1 connection, and each HTTP/2 stream, also gets the deadlines of
        // a request's head and body; streams are many per connection, so they are
        // counted apart from connections, against a limit only a flood reaches.
        http1 = HTTP1Channel(
            responder: responder,
            configuration: .init(additionalChannelHandlers: [ConnectionGuard(limits: limits, registry: registry, conformance: conformance)]))
        let streams = ConnectionRegistry(maximum: limits.maximumConnections * 100)
        let idle = Duration.seconds(limits.idleTimeout.nanoseconds / 1_000_000_000)
        http2 = HTTP2Channel(
            responder: responder,
            configuration: .init(
                idleTimeout: idle, gracefulCloseTimeout: .seconds(10),
                streamConfiguration: .init(additionalChannelHandlers: [ConnectionGuard(limits: limits, registry: streams)])
            )
        )
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(TLSConnectionGuard(limits: limits, registry: connections))
            if certificates.fromHandshake {
                let certificates = certificates
                try sync.addHandler(
                    NIOSSLServerHandler(
                        context: context,
                        customVerificationCallbackWithMetadata: { presented, promise in
                            promise.completeWithTask { await certificates.verifyHandshake(presented) }
                        }))
            } else {
                try sync.addHandler(NIOSSLServerHandler(context: context))
            }
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return channel.configureHTTP2AsyncSecureUpgrade { channel in
            http1.setup(channel: channel, logger: logger)
        } http2ConnectionInitializer: { channel in
            http2.setup(channel: channel, logger: logger)
        }.map { Value(negotiated: $0, channel: channel) }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1_1(let connection): await http1.handle(value: connection, logger: logger)
            case .http2(let connection): await http2.handle(value: connection, logger: logger)
            }
        } catch {
            logger.debug("TLS connection ended before its protocol was settled", metadata: ["error": "\(error)"])
        }
    }
}

/// One per TLS connection, before the TLS handler: counts the connection against
/// the limit (past it, the connection that has been quiet longest is closed), gives
/// the handshake the header timeout, and closes a connection that sends nothing for
/// the idle timeout (an HTTP/2 connection has no other guard for that).
final class TLSConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limits: ConnectionLimits
    private let registry: ConnectionRegistry
    private var context: ChannelHandlerContext?
    private var registered = false
    private var lastRead = NIODeadline.now()
    /// When the registry was last told of activity: at most once a second.
    private var reported = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var handshaken = false

    init(limits: ConnectionLimits, registry: ConnectionRegistry) {
        self.limits = limits
        self.registry = registry
    }

    private var id: ObjectIdentifier { ObjectIdentifier(self) }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { activate(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    func channelActive(context: ChannelHandlerContext) {
        activate(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        lastRead = now
        if now - reported >= .seconds(1) {
            reported = now
            registry.setWaiting(id, since: now)
        }
        context.fireChannelRead(data)
    }

    private func activate(_ context: ChannelHandlerContext) {
        guard !registered else { return }
        registered = true
        let now = NIODeadline.now()
        lastRead = now
        guard registry.admit(id, channel: context.channel, now: now) else {
            context.close(promise: nil)
            return
        }
        schedule(at: now + min(limits.headerTimeout, limits.idleTimeout))
    }

    private func schedule(at when: NIODeadline) {
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) { [self] in fire() }
    }

    private func fire() {
        timer = nil
        guard let context else { return }
        let now = NIODeadline.now()
        if !handshaken {
            // Still no TLS version: the handshake has not finished within its time.
            guard (try? context.pipeline.syncOperations.nioSSL_tlsVersion()) != nil else {
                context.close(promise: nil)
                return
            }
            handshaken = true
        }
        if now - lastRead >= limits.idleTimeout {
            context.close(promise: nil)
        } else {
            schedule(at: lastRead + limits.idleTimeout)
        }
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        if registered { registry.remove(id) }
        registered = false
        context = nil
    }
}
