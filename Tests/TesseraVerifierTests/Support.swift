import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import TesseraJOSE
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A port on 127.0.0.1 that was free a moment ago.
func freePort() throws -> Int {
    // Tests run in parallel in one process: a port the kernel offers again after it
    // was closed must not go to a second server of this run, which would then answer
    // the first one's requests.
    for _ in 0..<50 {
        let port = try unboundPort()
        if handedOut.withLock({ $0.insert(port).inserted }) { return port }
    }
    return try unboundPort()
}

/// Every port ``freePort()`` has handed out in this process.
private let handedOut = Mutex<Set<Int>>([])

private func unboundPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
    #expect(bound == 0)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs `app` on a real socket for the duration of `body`.
func serving<App: ApplicationProtocol, Value>(_ app: App, _ body: () async throws -> Value) async throws -> Value {
    let serviceGroup = ServiceGroup(
        configuration: .init(services: [app], gracefulShutdownSignals: [], logger: Logger(label: "test"))
    )
    let task = Task { try await serviceGroup.run() }
    defer { task.cancel() }
    do {
        let value = try await body()
        await serviceGroup.triggerGracefulShutdown()
        _ = await task.result
        return value
    } catch {
        await serviceGroup.triggerGracefulShutdown()
        _ = await task.result
        throw error
    }
}

/// Waits until `url` answers, for servers started in the background.
func waitUntilServing(port: Int) async throws {
    for _ in 0..<200 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(descriptor)
        if connected == 0 { return }
        try await Task.sleep(for: .milliseconds(25))
    }
    Issue.record("server on port \(port) did not start")
}

/// A stand-in issuer that publishes whatever keys a test gives it and counts fetches.
final class FakeIssuer: Sendable {
    struct State {
        var keys: [JWK] = []
        var jwksFetches = 0
        var metadataIssuer: String?
        var cacheControl = "public, max-age=300"
    }

    let port: Int
    let state = Mutex(State())
    var issuer: String { "http://127.0.0.1:\(port)" }

    init() throws {
        port = try freePort()
    }

    var jwksFetches: Int { state.withLock { $0.jwksFetches } }

    func publish(_ keys: [JWK]) {
        state.withLock { $0.keys = keys }
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.get("/.well-known/oauth-authorization-server") { [self] _, _ -> Response in
            let issuer = state.withLock { $0.metadataIssuer } ?? self.issuer
            let body = #"{"issuer":"\#(issuer)","jwks_uri":"\#(self.issuer)/.well-known/jwks.json"}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.get("/.well-known/jwks.json") { [self] _, _ -> Response in
            let (keys, cacheControl) = state.withLock { state in
                state.jwksFetches += 1
                return (state.keys, state.cacheControl)
            }
            let data = try JSONEncoder().encode(JWKSet(keys: keys))
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: cacheControl],
                body: .init(byteBuffer: ByteBuffer(bytes: data))
            )
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
    }
}

/// A settable clock.
final class ManualClock: Sendable {
    private let current = Mutex(Date())
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

func accessToken(
    _ key: SigningKey, issuer: String, audience: [String] = ["https://api.example"], scope: String = "orders:read",
    iat: Date = Date(), lifetime: Int64 = 300, type: String = "at+jwt", cnf: TesseraJOSE.Confirmation? = nil
) throws -> String {
    let now = Int64(iat.timeIntervalSince1970)
    let claims = AccessTokenClaims(
        iss: issuer, sub: "9b2f1c1e-0000-4000-8000-000000000001", aud: audience, exp: now + lifetime, iat: now, nbf: now,
        jti: UUID().uuidString, clientID: "tsc_client", scope: scope, tenant: "7c1d1c1e-0000-4000-8000-000000000002", roles: ["analyst"],
        cnf: cnf
    )
    let encoder = JSONEncoder()
    encoder.outputFormatting = .withoutEscapingSlashes
    return try JWS.sign(payload: Array(try encoder.encode(claims)), with: key, type: type)
}
