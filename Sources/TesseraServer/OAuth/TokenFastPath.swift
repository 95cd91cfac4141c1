import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization
import TesseraCore

/// What the token fast path answers with, shared by every connection of a server:
/// the token endpoint and the parts of ``FrontResponder`` a token response passes
/// through (request id, metrics), with the peer as ``TesseraRequestContext`` names it.
struct TokenFastLane: Sendable {
    let endpoint: TokenEndpoint
    let requestIDs: RequestIDs
    let metrics: RequestMetrics?
    let trustedProxies: TrustedProxies
    /// The `Date` of the answers, shared with the connection's other handlers.
    let dates: HTTPDateCache

    /// The route Hummingbird's router records for the token endpoint.
    static let route = "/oauth2/token"

    /// Whether a request with this head may be answered here once its body is in:
    /// `POST /oauth2/token` exactly, kept alive, no proof, no `Expect`, and a
    /// declared length (if any) within the token endpoint's limit.
    func mayAnswer(_ head: HTTPRequest) -> Bool {
        guard head.method == .post, head.path == Self.route, !head.headerFields.contains(.dpop), !head.headerFields.contains(.expect) else {
            return false
        }
        if let connection = head.headerFields.value(of: .connection), !connection.utf8.equalsIgnoringASCIICase("keep-alive".utf8) { return false }
        if let length = head.headerFields.value(of: .contentLength) {
            guard let declared = Int(length), declared <= TokenEndpoint.maximumBodySize else { return false }
        }
        return true
    }

    /// The whole response to a request ``mayAnswer(_:)`` let through, or `nil`
    /// when the routed endpoint must answer it.
    func answer(_ head: HTTPRequest, body: ByteBuffer, remoteAddress: SocketAddress?) -> (HTTPResponse, ByteBuffer)? {
        let measurement = metrics?.start(method: head.method)
        var peer = remoteAddress?.ipAddress ?? "unknown"
        if !trustedProxies.isEmpty { peer = trustedProxies.clientAddress(peer: peer, headers: head.headerFields) }
        guard var (fields, body) = endpoint.issueFromMemory(headers: head.headerFields, body: body, peer: peer) else {
            measurement?.abandon()
            return nil
        }
        // In the order the routed answer has them: the response's own fields, its
        // length, the request id, then the date Hummingbird adds.
        fields[.contentLength] = String(body.readableBytes)
        fields[.requestID] = requestIDs.id(for: head.headerFields)
        fields[.date] = dates.current
        measurement?.finish(route: Self.route, status: .ok)
        return (HTTPResponse(status: .ok, headerFields: fields), body)
    }
}

/// Answers plain client-credentials requests on the event loop, before they reach
/// Hummingbird's per-request machinery (docs/ARCHITECTURE.md, "The token fast
/// path"). One per connection, after ``ConnectionGuard``.
///
/// A request it may answer is held until its end. Its answer is then made on the
/// event loop once the loop has read every connection that was ready (the loop
/// runs the task after them), and flushed after the answers made with it, so that
/// answers go out together rather than one per wake-up.
///
/// When ``TokenFastLane`` cannot issue the token, or a read error or the server's
/// quiescing ends the reading early, the held parts go on to the router unchanged,
/// as if they had just arrived. A request is only held while the router has no
/// response outstanding on the connection, and whatever arrives while an answer is
/// being made waits for it, so answers keep the requests' order.
final class TokenFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// Reading a request this handler may answer.
        case holding(HTTPRequest, ByteBuffer)
        /// Reading a request that goes to the router.
        case passing
        /// A held request is complete and its answer is to be made.
        case answering(HTTPRequest, ByteBuffer)
    }

    /// What arrived while an answer was being made, in order.
    private enum Arrival {
        case read(NIOAny)
        case error(any Error)
        case event(Any)
    }

    private let lane: TokenFastLane
    private var state = State.idle
    private var waiting: [Arrival] = []
    /// Requests passed to the router whose response has not ended.
    private var outstanding = 0
    /// An answer was written and its flush is to come.
    private var flushScheduled = false
    /// A read the channel asked for while an answer was being made: the socket is
    /// read again once it is made, so what waits is bounded by what one pass of the
    /// loop reads from a socket.
    private var readHeld = false
    /// Parts were given to the router since it last saw a read complete.
    private var givenSinceReadComplete = false
    /// A request that closes the connection went to the router.
    private var closing = false
    /// Set once the server asked the connection to finish: the router then sees
    /// every request, so that it closes after the last response.
    private var quiescing = false

    init(lane: TokenFastLane) {
        self.lane = lane
    }

    private var isAnswering: Bool {
        if case .answering = state { return true }
        return false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if isAnswering {
            waiting.append(.read(data))
            return
        }
        switch unwrapInboundIn(data) {
        case .head(let head):
            // Only while the socket takes what is written: a client that does not read
            // its answers meets the router's backpressure, which stops reading from it.
            if outstanding == 0, !quiescing, !closing, context.channel.isWritable, lane.mayAnswer(head) {
                state = .holding(head, context.channel.allocator.buffer(capacity: 256))
            } else {
                state = .passing
                outstanding += 1
                // After a request that closes the connection, the router answers
                // nothing more, and neither does this handler.
                if head.headerFields[.connection] == "close" { closing = true }
                toRouter(data, context: context)
            }
        case .body(let part):
            guard case .holding(let head, var body) = state else {
                toRouter(data, context: context)
                return
            }
            state = .idle
            if body.readableBytes + part.readableBytes > TokenEndpoint.maximumBodySize {
                pass(head, body, context: context)
                toRouter(data, context: context)
            } else {
                body.writeImmutableBuffer(part)
                state = .holding(head, body)
            }
        case .end(let trailers):
            guard case .holding(let head, let body) = state, trailers == nil else {
                release(context: context)
                state = .idle
                toRouter(data, context: context)
                return
            }
            state = .answering(head, body)
            context.eventLoop.assumeIsolated().execute { [self] in answer(context: context) }
        }
    }

    /// Makes the answer of the request in `.answering`, or gives the request to
    /// the router; then takes what arrived meanwhile.
    private func answer(context: ChannelHandlerContext) {
        guard case .answering(let head, let body) = state else { return }
        state = .idle
        if let (response, answer) = lane.answer(head, body: body, remoteAddress: context.channel.remoteAddress) {
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(answer)), promise: nil)
            context.write(wrapOutboundOut(.end(nil)), promise: nil)
            // Flushed after the loop's other answers are made, so that they reach
            // the socket together: answers flushed one by one woke a client on the
            // same machine once per answer (Benchmarks/README.md).
            if !flushScheduled {
                flushScheduled = true
                context.eventLoop.assumeIsolated().execute { [self] in
                    flushScheduled = false
                    context.flush()
                }
            }
        } else {
            pass(head, body, context: context)
            state = .idle
            toRouter(wrapInboundOut(.end(nil)), context: context)
        }
        while !isAnswering, !waiting.isEmpty {
            switch waiting.removeFirst() {
            case .read(let data): channelRead(context: context, data: data)
            case .error(let error): errorCaught(context: context, error: error)
            case .event(let event): userInboundEventTriggered(context: context, event: event)
            }
        }
        // The router's side delivers what it was given when a read completes.
        if givenSinceReadComplete, !isAnswering {
            givenSinceReadComplete = false
            context.fireChannelReadComplete()
        }
        if readHeld, !isAnswering {
            readHeld = false
            context.read()
        }
    }

    /// Hands a held request's head and body so far to the router.
    private func pass(_ head: HTTPRequest, _ body: ByteBuffer, context: ChannelHandlerContext) {
        state = .passing
        outstanding += 1
        toRouter(wrapInboundOut(.head(head)), context: context)
        if body.readableBytes > 0 { toRouter(wrapInboundOut(.body(body)), context: context) }
    }

    private func toRouter(_ data: NIOAny, context: ChannelHandlerContext) {
        givenSinceReadComplete = true
        context.fireChannelRead(data)
    }

    /// Whatever ends the reading of a held request early gives it to the router
    /// first, which answers it as it always has.
    private func release(context: ChannelHandlerContext) {
        if case .holding(let head, let body) = state { pass(head, body, context: context) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if isAnswering {
            waiting.append(.error(error))
            return
        }
        release(context: context)
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if isAnswering {
            waiting.append(.event(event))
            return
        }
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            // An answer not flushed yet goes out before anything may close the connection.
            context.flush()
            release(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // While an answer is being made, what the router would be given waits too;
        // what it was given before is delivered once the answer is made.
        if !isAnswering {
            givenSinceReadComplete = false
            context.fireChannelReadComplete()
        }
    }

    func read(context: ChannelHandlerContext) {
        if isAnswering {
            readHeld = true
        } else {
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { outstanding = max(0, outstanding - 1) }
        context.write(data, promise: promise)
    }
}

/// The `Date` field value (RFC 9110 §5.6.7) of the current second, formatted once
/// per second.
final class HTTPDateCache: Sendable {
    private let cached = Mutex<(second: Int, text: String)>((-1, ""))

    var current: String {
        let now = time(nil)
        return cached.withLock { cached in
            if cached.second == now { return cached.text }
            cached = (now, Self.format(now))
            return cached.text
        }
    }

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for a time in seconds since 1970.
    static func format(_ seconds: Int) -> String {
        var time = time_t(seconds), parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
