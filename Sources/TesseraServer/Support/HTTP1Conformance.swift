import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import TesseraJOSE

/// What an HTTP/1 connection's refusals carry: the request id and the date every
/// other response carries.
struct ConformanceResponses: Sendable {
    let requestIDs: RequestIDs
    let dates: HTTPDateCache
}

/// HTTP/1.1's message rules that the codec leaves to the server (docs/ARCHITECTURE.md,
/// "Connections"). One per HTTP/1 connection, between NIO's decoder and the codec to
/// HTTPTypes, which drops the protocol version and joins repeated fields.
///
/// - A request that asks to close the connection, by `Connection: close` or as
///   HTTP/1.0 without `keep-alive` (RFC 9112 §9.3), reaches the router with exactly
///   `Connection: close`, so the connection closes after its response, and that
///   response says `Connection: close` (§9.6).
/// - A request without a `Host`, or with more than one, is answered 400 (§3.2); one
///   with a transfer coding other than `chunked`, 501 (§6.1).
/// - A request the decoder cannot frame (both `Content-Length` and
///   `Transfer-Encoding`, an invalid length, a coding list not ending in `chunked`)
///   is answered 400 (§6.3).
///
/// Each refusal is a problem document with `Date` and `X-Request-ID`, like every
/// other response. It is sent once every earlier response on the connection has
/// ended, and then the connection is closed: after a framing error, no later
/// byte can be trusted to start a request.
final class HTTP1Conformance: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let responses: ConformanceResponses
    /// For each request passed on whose response head has not been written: whether
    /// that response ends the connection.
    private var closing: [Bool] = []
    /// Requests passed on whose response has not ended.
    private var outstanding = 0
    /// A request's head was passed on and its end has not arrived.
    private var reading = false
    /// The request being read ends the connection.
    private var readingCloses = false
    /// The refusal to send once nothing is outstanding; from then on nothing more is read.
    private var refusal: (status: HTTPResponseStatus, detail: String, requestID: String?)?
    private var refused = false
    /// A request that ends the connection was read: whatever follows it is never
    /// a request to answer (RFC 9112 §9.6), so it is neither passed on nor refused.
    private var finished = false

    init(responses: ConformanceResponses) {
        self.responses = responses
    }

    /// Adds one before the connection's codec to HTTPTypes, if it has one (an
    /// HTTP/2 stream has none).
    static func install(_ responses: ConformanceResponses, in pipeline: ChannelPipeline.SynchronousOperations) {
        guard let codec = try? pipeline.handler(type: HTTP1ToHTTPServerCodec.self) else { return }
        try? pipeline.addHandler(HTTP1Conformance(responses: responses), position: .before(codec))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard refusal == nil, !finished else { return }
        switch unwrapInboundIn(data) {
        case .head(var head):
            if let (status, detail) = Self.refusal(of: head) {
                refuse(status, detail, requestID: head.headers.first(name: "x-request-id"), context: context)
                return
            }
            let close = !head.isKeepAlive
            if close { head.headers.replaceOrAdd(name: "connection", value: "close") }
            closing.append(close)
            outstanding += 1
            reading = true
            readingCloses = close
            context.fireChannelRead(wrapInboundOut(.head(head)))
        case .body:
            context.fireChannelRead(data)
        case .end:
            reading = false
            finished = readingCloses
            context.fireChannelRead(data)
        }
    }

    /// Why a head is refused, if it is.
    static func refusal(of head: HTTPRequestHead) -> (HTTPResponseStatus, String)? {
        let hosts = head.headers[canonicalForm: "host"].count
        if hosts > 1 || (hosts == 0 && (head.version.major, head.version.minor) >= (1, 1)) {
            return (.badRequest, hosts == 0 ? "an HTTP/1.1 request needs a Host field" : "a request has one Host field, not \(hosts)")
        }
        for coding in head.headers[canonicalForm: "transfer-encoding"] where coding.lowercased() != "chunked" {
            return (.notImplemented, "the transfer coding \(coding) is not supported; only chunked is")
        }
        return nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if refusal != nil || finished { return }
        // A request that cannot be framed, before its head was passed on: the router
        // has not seen it, so it is refused here. Within a body, the router reading
        // that body is told.
        if error is HTTPParserError, !reading {
            refuse(.badRequest, "the request cannot be framed: \(error)", requestID: nil, context: context)
            return
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200:
            if !closing.isEmpty, closing.removeFirst(), !head.headers.contains(name: "connection") {
                head.headers.add(name: "Connection", value: "close")
                context.write(wrapOutboundOut(.head(head)), promise: promise)
                return
            }
        case .end:
            outstanding = max(0, outstanding - 1)
            context.write(data, promise: promise)
            if outstanding == 0, refusal != nil { sendRefusal(context: context) }
            return
        default:
            break
        }
        context.write(data, promise: promise)
    }

    private func refuse(_ status: HTTPResponseStatus, _ detail: String, requestID: String?, context: ChannelHandlerContext) {
        refusal = (status, detail, requestID)
        if outstanding == 0 { sendRefusal(context: context) }
    }

    private func sendRefusal(context: ChannelHandlerContext) {
        guard let refusal, !refused else { return }
        refused = true
        var body = JSONOutput(capacity: 160)
        body.beginObject()
        body.member("type", "about:blank")
        body.member("title", refusal.status.reasonPhrase)
        body.member("status", Int64(refusal.status.code))
        body.member("detail", refusal.detail)
        body.endObject()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/problem+json")
        headers.add(name: "Content-Length", value: String(body.bytes.count))
        headers.add(name: "Connection", value: "close")
        let id = refusal.requestID.flatMap { RequestIDs.isSafe($0) ? $0 : nil } ?? responses.requestIDs.newID()
        headers.add(name: "X-Request-ID", value: id)
        headers.add(name: "Date", value: responses.dates.current)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: refusal.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body.bytes)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
