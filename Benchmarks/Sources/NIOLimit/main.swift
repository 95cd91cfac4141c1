import NIOCore
import NIOHTTP1
import NIOPosix
import TesseraJOSE

// The machine's limit for a token endpoint's work: SwiftNIO's HTTP/1 pipeline and a
// synchronous handler on the event loop that reads the form, checks grant_type and
// signs a fixed-shape ES256 JWT. No router, no Swift concurrency, no client lookup,
// no logging, no metrics. scripts/bench measures it in turn with the Hummingbird
// reference ceiling and Tessera, under the same wrk script.
let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 18_098
let key = try SigningKey.generate(.es256)
let payload = Array(
    #"{"iss":"http://limit","sub":"s","aud":["http://limit"],"exp":4102444800,"iat":1800000000,"nbf":1800000000,"jti":"j","client_id":"c","scope":"api:read","tenant":"t","roles":["consumer"]}"#
        .utf8)
let grant = Array("grant_type=client_credentials".utf8)

/// One request at a time per connection: the head, the body bytes (at most 16 KiB),
/// then the answer at its end.
final class TokenHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var body: [UInt8] = []
    private var keepAlive = true
    private var isToken = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            body.removeAll(keepingCapacity: true)
            keepAlive = head.isKeepAlive
            isToken = head.method == .POST && head.uri == "/oauth2/token"
        case .body(var buffer):
            if body.count + buffer.readableBytes <= 16_384, let bytes = buffer.readBytes(length: buffer.readableBytes) {
                body += bytes
            }
        case .end:
            respond(context: context)
        }
    }

    private func respond(context: ChannelHandlerContext) {
        let status: HTTPResponseStatus
        var answer = ByteBuffer()
        if !isToken {
            status = .notFound
        } else if !body.split(separator: UInt8(ascii: "&")).contains(where: { $0.elementsEqual(grant) }) {
            status = .badRequest
        } else if let token = try? JWS.sign(payload: payload, with: key, type: "at+jwt") {
            status = .ok
            answer.writeString(#"{"access_token":""# + token + #"","token_type":"Bearer","expires_in":3600,"scope":"api:read"}"#)
        } else {
            status = .internalServerError
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Content-Length", value: String(answer.readableBytes))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(answer))), promise: nil)
        let keepAlive = keepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }
}

let group = MultiThreadedEventLoopGroup.singleton
let channel = try await ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 256)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(TokenHandler())
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .get()
try await channel.closeFuture.get()
