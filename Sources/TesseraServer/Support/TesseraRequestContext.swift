import Hummingbird
import NIOCore

/// The request context of Tessera's router: Hummingbird's core context plus the
/// peer address, which the authentication throttle counts failures by.
public struct TesseraRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The peer's IP address as text (no port), or `unknown` when there is none (in-process tests).
    var peer: String {
        remoteAddress?.ipAddress ?? "unknown"
    }
}
