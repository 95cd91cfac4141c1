import Hummingbird
import NIOCore

/// The request context of Tessera's router: Hummingbird's core context plus the
/// peer address, which the authentication throttle counts failures by, and the
/// channel, whose TLS handshake may carry a client certificate (docs/binding.md).
public struct TesseraRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The connection (or HTTP/2 stream) the request came on; `nil` in tests that
    /// build contexts by hand.
    let channel: (any Channel)?
    /// The client's address as a trusted proxy forwarded it (docs/binding.md);
    /// set before the route runs.
    var forwardedFor: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }

    /// The client's IP address as text (no port): what a trusted proxy says it is,
    /// else the peer's; `unknown` when there is none (in-process tests).
    var peer: String {
        forwardedFor ?? remoteAddress?.ipAddress ?? "unknown"
    }
}
