import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import Synchronization
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import TesseraServer
import TesseraVerifier
import Testing

/// A token endpoint that counts calls and answers what the test says.
final class FakeTokenEndpoint: Sendable {
    let port: Int
    let calls = Mutex(0)
    let failuresBeforeSuccess = Mutex(0)
    let expiresIn: Int

    init(expiresIn: Int = 3600) throws {
        port = try freePort()
        self.expiresIn = expiresIn
    }

    var url: String { "http://127.0.0.1:\(port)/oauth2/token" }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/oauth2/token") { [self] _, _ -> Response in
            let number = calls.withLock {
                $0 += 1
                return $0
            }
            // Slow enough that concurrent callers overlap.
            try await Task.sleep(for: .milliseconds(100))
            if failuresBeforeSuccess.withLock({ remaining in
                if remaining > 0 {
                    remaining -= 1
                    return true
                }
                return false
            }) {
                return Response(status: .serviceUnavailable)
            }
            let body = #"{"access_token":"token-\#(number)","token_type":"Bearer","expires_in":\#(expiresIn),"scope":"a"}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
    }
}

@Suite struct TokenSourceTests {
    @Test func oneRequestServesAHundredConcurrentCallers() async throws {
        let endpoint = try FakeTokenEndpoint()
        let source = TokenSource(tokenURL: endpoint.url, clientID: "c", credentials: .secret("s"))
        try await serving(endpoint.application()) {
            try await waitUntilServing(port: endpoint.port)
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<100 { group.addTask { try await source.token() } }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(tokens == ["token-1"])
            #expect(endpoint.calls.withLock { $0 } == 1)
        }
    }

    @Test func tokenIsRefreshedAheadOfExpiry() async throws {
        let endpoint = try FakeTokenEndpoint(expiresIn: 300)
        let clock = ManualClock()
        let source = TokenSource(tokenURL: endpoint.url, clientID: "c", credentials: .secret("s"), refreshAhead: 60, now: { clock.now })
        try await serving(endpoint.application()) {
            try await waitUntilServing(port: endpoint.port)
            #expect(try await source.token() == "token-1")
            clock.advance(239)
            #expect(try await source.token() == "token-1")
            clock.advance(2)  // 59 s left: inside the refresh window
            #expect(try await source.token() == "token-2")
            #expect(endpoint.calls.withLock { $0 } == 2)
        }
    }

    @Test func transientFailuresAreRetried() async throws {
        let endpoint = try FakeTokenEndpoint()
        endpoint.failuresBeforeSuccess.withLock { $0 = 2 }
        let source = TokenSource(tokenURL: endpoint.url, clientID: "c", credentials: .secret("s"))
        try await serving(endpoint.application()) {
            try await waitUntilServing(port: endpoint.port)
            #expect(try await source.token() == "token-3")
            #expect(endpoint.calls.withLock { $0 } == 3)
        }
    }

    @Test func realIssuerWithSecretAndWithPrivateKey() async throws {
        let port = try freePort()
        let issuer = "http://127.0.0.1:\(port)"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-source-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tessera = Tessera(issuer: issuer, storage: try SQLiteStorage(path: directory.appendingPathComponent("db.sqlite").path), masterKey: .generate())
        try await tessera.start(signingAlgorithm: .es256)
        let credentials = try await Bootstrap(tenants: tessera.tenants, accounts: tessera.accounts).run(tenantSlug: "acme", role: "editor")
        let tenant = try #require(try await tessera.tenants.find("acme"))
        let key = try SigningKey.generate(.eddsa)
        var jwk = key.publicJWK
        jwk.kid = "caller-1"
        _ = try await tessera.accounts.addKey(
            for: try #require(UUID(uuidString: credentials.serviceAccountID)), in: tenant, jwk: jwk, expiresAt: nil, by: .bootstrap
        )
        let app = try TesseraHTTP.application(tessera: tessera, configuration: .init(host: "127.0.0.1", port: port), logger: Logger(label: "source-test"))
        try await serving(app) {
            try await waitUntilServing(port: port)
            let verifier = TokenVerifier(issuer: issuer, audience: issuer)
            let withSecret = TokenSource(
                tokenURL: issuer + "/oauth2/token", clientID: credentials.clientID, credentials: .secret(credentials.clientSecret), scopes: ["api:read"])
            let first = try await verifier.verify(try await withSecret.token())
            #expect(first.scopes == ["api:read"])
            let withKey = TokenSource(tokenURL: issuer + "/oauth2/token", clientID: credentials.clientID, credentials: .privateKey(key, kid: "caller-1"))
            let second = try await verifier.verify(try await withKey.token())
            #expect(second.clientID == credentials.clientID)
            #expect(second.scopes == ["api:read", "api:write"])

            var request = HTTPClientRequest(url: issuer + "/v1/whoami")
            try await withSecret.authorize(&request)
            #expect(request.headers.first(name: "Authorization")?.hasPrefix("Bearer ey") == true)

            let wrong = TokenSource(tokenURL: issuer + "/oauth2/token", clientID: credentials.clientID, credentials: .secret("tss_wrong"))
            let failure = await #expect(throws: TokenSource.Failure.self) { try await wrong.token() }
            #expect(failure?.status == 401)
            #expect(failure?.error == "invalid_client")
        }
    }
}
