import NIOCore
import NIOHTTPTypes
import Synchronization

/// How long a connection may keep the server waiting, and how many it may hold
/// at once (docs/threat_model.md, "Connections").
///
/// The defaults are ones a reverse proxy in front expects: its own upstream
/// keep-alive is shorter than ours (nginx 60 s, a cloud load balancer's 60 s
/// idle timeout), so it never sends a request on a connection we are closing.
public struct ConnectionLimits: Sendable, Hashable {
    /// How long a kept-alive connection may wait for its next request.
    public var idleTimeout: TimeAmount
    /// How long a request's head (request line and header fields) may take to
    /// arrive, from its first byte; a new connection gets this long, or the idle
    /// timeout if shorter, to send its first byte.
    public var headerTimeout: TimeAmount
    /// How long a request's body may take to arrive, from the end of its head.
    public var bodyTimeout: TimeAmount
    /// Open connections at most. When a new one would pass it, the connection
    /// that has waited longest without a request in progress is closed; when
    /// every connection has one in progress, the new one is closed.
    public var maximumConnections: Int

    public static let defaultIdleTimeout: TimeAmount = .seconds(75)
    public static let defaultHeaderTimeout: TimeAmount = .seconds(10)
    public static let defaultBodyTimeout: TimeAmount = .seconds(30)
    public static let defaultMaximumConnections = 10_000

    public init(
        idleTimeout: TimeAmount = defaultIdleTimeout, headerTimeout: TimeAmount = defaultHeaderTimeout,
        bodyTimeout: TimeAmount = defaultBodyTimeout, maximumConnections: Int = defaultMaximumConnections
    ) {
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.maximumConnections = max(1, maximumConnections)
    }
}

/// The open connections of one server, so a new connection past the limit can
/// displace the one that has waited longest without a request in progress: a
/// flood of idle or slow connections then cannot keep a real client out.
final class ConnectionRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        /// Since when the connection has had no request in progress (waiting for
        /// a request, or reading a head); `nil` while one is.
        var waitingSince: NIODeadline?
    }

    let maximum: Int
    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])

    init(maximum: Int) {
        self.maximum = maximum
    }

    var count: Int { entries.withLock { $0.count } }

    /// Registers a new connection. Past the limit it closes the connection that
    /// has waited longest; `false` when none waits and the new one must go.
    func admit(_ id: ObjectIdentifier, channel: any Channel, now: NIODeadline) -> Bool {
        let outcome: (admitted: Bool, evicted: (any Channel)?) = entries.withLock { entries in
            var evicted: (any Channel)?
            if entries.count >= maximum {
                var oldest: (id: ObjectIdentifier, since: NIODeadline)?
                for (key, entry) in entries {
                    guard let since = entry.waitingSince else { continue }
                    if oldest == nil || since < oldest!.since { oldest = (key, since) }
                }
                guard let oldest else { return (false, nil) }
                evicted = entries.removeValue(forKey: oldest.id)?.channel
            }
            entries[id] = Entry(channel: channel, waitingSince: now)
            return (true, evicted)
        }
        outcome.evicted?.close(promise: nil)
        return outcome.admitted
    }

    func setWaiting(_ id: ObjectIdentifier, since: NIODeadline?) {
        entries.withLock { entries in entries[id]?.waitingSince = since }
    }

    func remove(_ id: ObjectIdentifier) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }
}

/// One per connection, after the HTTP codec: enforces ``ConnectionLimits``.
///
/// A connection is in one phase at a time, each with its own deadline:
/// - waiting for a request (new, or kept alive after a response): the idle timeout
///   (for a new connection, the header timeout if shorter);
/// - reading a head, from its first byte: the header timeout, however slowly the
///   bytes keep coming;
/// - reading a body, from the end of the head: the body timeout;
/// - while the server handles the request and writes the response: none.
///
/// Past its deadline the connection is closed. One timer serves every phase: a
/// phase change only moves the deadline, and the timer, when it fires early,
/// sets itself again for the deadline then in force.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Phase {
        case waiting
        case readingHead
        case readingBody
        case responding
    }

    private let limits: ConnectionLimits
    private let registry: ConnectionRegistry
    private var phase = Phase.waiting
    /// Requests whose head was read and whose response has not ended.
    private var inProgress = 0
    /// Bytes of a next request arrived while a response was being written: once
    /// it ends, that head is already under way and gets the header deadline.
    private var bytesWhileResponding = false
    private var deadline: NIODeadline?
    private var timer: (task: Scheduled<Void>, at: NIODeadline)?
    private var registered = false
    private var context: ChannelHandlerContext?

    /// What ``HTTP1Conformance``, added before the codec of an HTTP/1 connection,
    /// answers with; `nil` adds none.
    private let conformance: ConformanceResponses?

    init(limits: ConnectionLimits, registry: ConnectionRegistry, conformance: ConformanceResponses? = nil) {
        self.limits = limits
        self.registry = registry
        self.conformance = conformance
    }

    private var id: ObjectIdentifier { ObjectIdentifier(self) }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Raw bytes are seen before the codec: the first byte of a head starts
        // the header deadline, long before the codec has a whole head to pass on.
        try? context.pipeline.syncOperations.addHandler(FirstByteObserver(owner: self), position: .first)
        if let conformance { HTTP1Conformance.install(conformance, in: context.pipeline.syncOperations) }
        if context.channel.isActive { activate(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        close()
    }

    func channelActive(context: ChannelHandlerContext) {
        activate(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        close()
        context.fireChannelInactive()
    }

    private func activate(_ context: ChannelHandlerContext) {
        guard !registered else { return }
        registered = true
        let now = NIODeadline.now()
        guard registry.admit(id, channel: context.channel, now: now) else {
            context.close(promise: nil)
            return
        }
        setDeadline(now + min(limits.idleTimeout, limits.headerTimeout))
    }

    private func close() {
        timer?.task.cancel()
        timer = nil
        deadline = nil
        if registered { registry.remove(id) }
        registered = false
        context = nil
    }

    /// Bytes arrived before the codec. In the waiting phase they begin a head.
    fileprivate func bytesArrived() {
        switch phase {
        case .waiting:
            phase = .readingHead
            setDeadline(.now() + limits.headerTimeout)
        case .responding:
            bytesWhileResponding = true
        case .readingHead, .readingBody:
            break
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            inProgress += 1
            bytesWhileResponding = false
            phase = .readingBody
            registry.setWaiting(id, since: nil)
            setDeadline(.now() + limits.bodyTimeout)
        case .body:
            break
        case .end:
            phase = .responding
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inProgress -= 1
            if inProgress <= 0, phase == .responding {
                inProgress = 0
                let now = NIODeadline.now()
                registry.setWaiting(id, since: now)
                if bytesWhileResponding {
                    bytesWhileResponding = false
                    phase = .readingHead
                    setDeadline(now + limits.headerTimeout)
                } else {
                    phase = .waiting
                    setDeadline(now + limits.idleTimeout)
                }
            }
        }
        context.write(data, promise: promise)
    }

    private func setDeadline(_ new: NIODeadline) {
        deadline = new
        if let timer, timer.at <= new { return }
        timer?.task.cancel()
        schedule(at: new)
    }

    private func schedule(at when: NIODeadline) {
        guard let context else { return }
        let task = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) { [self] in fire() }
        timer = (task, when)
    }

    private func fire() {
        timer = nil
        guard let deadline, let context else { return }
        if NIODeadline.now() >= deadline {
            context.close(promise: nil)
        } else {
            schedule(at: deadline)
        }
    }
}

/// Tells a ``ConnectionGuard`` that bytes arrived, before the HTTP codec.
private final class FirstByteObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let owner: ConnectionGuard

    init(owner: ConnectionGuard) {
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner.bytesArrived()
        context.fireChannelRead(data)
    }
}
