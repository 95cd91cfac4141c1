import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import TesseraServer
import TesseraVerifier
import TesseraVerifierHummingbird
import Testing

/// A live Tessera with an introspecting admin and a worker, for the online and hybrid modes.
struct LiveIssuer {
    let issuer: String
    let port: Int
    let tessera: Tessera
    let admin: Bootstrap.Result
    let worker: Bootstrap.Result
    let directory: URL

    init() async throws {
        port = try freePort()
        issuer = "http://127.0.0.1:\(port)"
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-modes-\(UUID().uuidString)")
        tessera = Tessera(issuer: issuer, storage: try SQLiteStorage(path: directory.appendingPathComponent("db.sqlite").path), masterKey: .generate())
        try await tessera.start(signingAlgorithm: .es256)
        let bootstrap = Bootstrap(tenants: tessera.tenants, accounts: tessera.accounts)
        admin = try await bootstrap.run(tenantSlug: "acme", role: "admin")
        worker = try await bootstrap.run(tenantSlug: "acme", role: "member")
    }

    func run<Value>(_ body: () async throws -> Value) async throws -> Value {
        defer { try? FileManager.default.removeItem(at: directory) }
        let app = try TesseraHTTP.application(tessera: tessera, configuration: .init(host: "127.0.0.1", port: port), logger: Logger(label: "modes"))
        return try await serving(app) {
            try await waitUntilServing(port: port)
            return try await body()
        }
    }

    func token(_ credentials: Bootstrap.Result) async throws -> String {
        try await TokenSource(tokenURL: issuer + "/oauth2/token", clientID: credentials.clientID, credentials: .secret(credentials.clientSecret)).token()
    }

    func revoke(_ token: String, as credentials: Bootstrap.Result) async throws {
        var request = HTTPClientRequest(url: issuer + "/oauth2/revoke")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Authorization", value: "Basic " + Data("\(credentials.clientID):\(credentials.clientSecret)".utf8).base64EncodedString())
        request.body = .bytes(ByteBuffer(string: "token=\(token)"))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        #expect(response.status == .ok)
    }

    /// An introspection client of the admin. These tests are about answers, not
    /// latency: a request may take up to 10 s (the default is 2 s), since the whole
    /// suite runs at once on a small machine.
    func introspection(_ configuration: IntrospectionClient.Configuration = Self.patient) -> IntrospectionClient {
        IntrospectionClient(endpoint: issuer + "/oauth2/introspect", clientID: admin.clientID, secret: admin.clientSecret, configuration: configuration)
    }

    static var patient: IntrospectionClient.Configuration {
        var configuration = IntrospectionClient.Configuration()
        configuration.timeout = 10
        return configuration
    }
}

@Suite struct VerificationModeTests {
    @Test func hybridRefusesARevokedTokenOnSensitiveRoutesOnly() async throws {
        let live = try await LiveIssuer()
        try await live.run {
            let client = live.introspection()
            let verifier = TokenVerifier(issuer: live.issuer, audience: live.issuer, mode: .hybrid(client, maximumAge: 3600))
            let token = try await live.token(live.worker)
            #expect(try await verifier.verify(token, sensitive: true).clientID == live.worker.clientID)
            try await live.revoke(token, as: live.worker)
            // Young and not sensitive: the offline check alone, which cannot see revocation.
            #expect(try await verifier.verify(token).clientID == live.worker.clientID)
            // Sensitive: the cached active answer lasts positiveTTL, so use a fresh client to see the revocation now.
            let fresh = TokenVerifier(issuer: live.issuer, audience: live.issuer, mode: .hybrid(live.introspection(), maximumAge: 3600))
            let error = await #expect(throws: TokenVerificationError.self) { try await fresh.verify(token, sensitive: true) }
            #expect(error?.code == .revoked)
            // Old tokens are always checked.
            let strict = TokenVerifier(issuer: live.issuer, audience: live.issuer, mode: .hybrid(live.introspection(), maximumAge: -1))
            #expect(await #expect(throws: TokenVerificationError.self) { try await strict.verify(token) }?.code == .revoked)
        }
    }

    @Test func onlineModeUsesOnlyIntrospection() async throws {
        let live = try await LiveIssuer()
        try await live.run {
            let verifier = TokenVerifier(issuer: live.issuer, audience: live.issuer, mode: .online(live.introspection()))
            let token = try await live.token(live.worker)
            let verified = try await verifier.verify(token)
            #expect(verified.subject == live.worker.serviceAccountID)
            #expect(verified.scopes == ["api:read"])
            #expect(await #expect(throws: TokenVerificationError.self) { try await verifier.verify("not-a-token") }?.code == .revoked)
        }
    }

    @Test func apiTokensPassThroughIntrospectionOnlyWhenTheServiceOptsIn() async throws {
        let live = try await LiveIssuer()
        let tenant = try #require(try await live.tessera.tenants.find("acme"))
        let workerID = try #require(UUID(uuidString: live.worker.serviceAccountID))
        let created = try await live.tessera.accounts.createSecret(
            for: workerID, in: tenant, NewClientSecret(kind: .apiToken, name: "legacy", expiresInDays: 30), by: .bootstrap
        )
        let apiToken = created.clientSecret
        try await live.run {
            var configuration = TokenVerifier.Configuration()
            configuration.acceptsAPITokens = true
            for mode in [TokenVerifier.Mode.online(live.introspection()), .hybrid(live.introspection(), maximumAge: 3600)] {
                let verifier = TokenVerifier(issuer: live.issuer, audience: "https://orders.example", mode: mode, configuration: configuration)
                let verified = try await verifier.verify(apiToken)
                #expect(verified.kind == .apiToken)
                #expect(verified.subject == live.worker.serviceAccountID)
                #expect(verified.clientID == live.worker.clientID)
                #expect(verified.scopes == ["api:read"])
                #expect(verified.audience.isEmpty)
                #expect(abs(verified.expiresAt.timeIntervalSinceNow - 30 * 86_400) < 120)
                // A JWT still goes the JWT way, audience checked.
                let jwt = try await live.token(live.worker)
                #expect(await #expect(throws: TokenVerificationError.self) { try await verifier.verify(jwt) }?.code == .wrongAudience)
            }
            // Offline, or without opting in, an API token is refused before any call.
            let offline = TokenVerifier(issuer: live.issuer, audience: live.issuer, configuration: configuration)
            #expect(await #expect(throws: TokenVerificationError.self) { try await offline.verify(apiToken) }?.code == .wrongType)
            let client = live.introspection()
            let unwilling = TokenVerifier(issuer: live.issuer, audience: live.issuer, mode: .online(client))
            #expect(await #expect(throws: TokenVerificationError.self) { try await unwilling.verify(apiToken) }?.code == .wrongType)
            #expect(await client.requestCount == 0)
            // Revoked (disabled) at the issuer: refused by a verifier that has not cached it.
            _ = try await live.tessera.accounts.setSecret(created.secret.id, of: workerID, in: tenant, kind: .apiToken, enabled: false, by: .bootstrap)
            let fresh = TokenVerifier(issuer: live.issuer, audience: live.issuer, mode: .online(live.introspection()), configuration: configuration)
            #expect(await #expect(throws: TokenVerificationError.self) { try await fresh.verify(apiToken) }?.code == .revoked)
        }
    }

    @Test func theMiddlewareTakesAJWTOrAnAPITokenAsTheVerifierDoes() async throws {
        let live = try await LiveIssuer()
        let tenant = try #require(try await live.tessera.tenants.find("acme"))
        let workerID = try #require(UUID(uuidString: live.worker.serviceAccountID))
        let created = try await live.tessera.accounts.createSecret(
            for: workerID, in: tenant, NewClientSecret(kind: .apiToken, name: "script"), by: .bootstrap
        )
        try await live.run {
            var accepting = TokenVerifier.Configuration()
            accepting.acceptsAPITokens = true
            let configuration = accepting
            let verifier = TokenVerifier(issuer: live.issuer, audience: live.issuer, mode: .online(live.introspection()), configuration: configuration)
            let router = Router(context: AppContext.self)
            router.group("whoami").add(middleware: BearerTokenMiddleware(verifier: verifier)).get { _, context in
                "\(context.verifiedToken?.kind == .apiToken ? "api token" : "jwt") \(context.verifiedToken?.clientID ?? "?")"
            }
            let jwt = try await live.token(live.worker)
            try await Application(router: router).test(.router) { client in
                for (credential, expected) in [(jwt, "jwt"), (created.clientSecret, "api token")] {
                    let response = try await client.execute(uri: "/whoami", method: .get, headers: [.authorization: "Bearer \(credential)"])
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == "\(expected) \(live.worker.clientID)")
                }
                // Revoked at the issuer: the middleware answers RFC 6750's invalid_token.
                _ = try await live.tessera.accounts.setSecret(created.secret.id, of: workerID, in: tenant, kind: .apiToken, enabled: false, by: .bootstrap)
                let fresh = TokenVerifier(issuer: live.issuer, audience: live.issuer, mode: .online(live.introspection()), configuration: configuration)
                let strict = Router(context: AppContext.self)
                strict.group("whoami").add(middleware: BearerTokenMiddleware(verifier: fresh)).get { _, _ in "never" }
                try await Application(router: strict).test(.router) { client in
                    let response = try await client.execute(uri: "/whoami", method: .get, headers: [.authorization: "Bearer \(created.clientSecret)"])
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)
                }
            }
        }
    }

    @Test func introspectionClientCachesCoalescesAndNeverForgetsARevocation() async throws {
        let live = try await LiveIssuer()
        try await live.run {
            let client = live.introspection()
            let token = try await live.token(live.worker)
            let answers = try await withThrowingTaskGroup(of: IntrospectionClient.Answer.self) { group in
                for _ in 0..<20 { group.addTask { try await client.introspect(token) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { if case .active = $0 { true } else { false } })
            #expect(await client.requestCount == 1)
            _ = try await client.introspect(token)
            #expect(await client.requestCount == 1)

            // Once inactive is observed, the active answer is gone for good.
            var configuration = LiveIssuer.patient
            configuration.positiveTTL = 0
            let short = live.introspection(configuration)
            try await live.revoke(token, as: live.worker)
            #expect(try await short.introspect(token) == .inactive)
            #expect(try await short.introspect(token) == .inactive)
        }
    }

    @Test func breakerOpensAndFailOpenAcceptsTheOfflineResult() async throws {
        let key = try SigningKey.generate(.es256)
        var configuration = IntrospectionClient.Configuration()
        configuration.breakerThreshold = 2
        configuration.timeout = 1
        let unreachable = IntrospectionClient(
            endpoint: "http://127.0.0.1:\(try freePort())/oauth2/introspect", clientID: "c", secret: "s", configuration: configuration)
        for _ in 0..<2 { await #expect(throws: IntrospectionClient.Unavailable.self) { try await unreachable.introspect("t") } }
        #expect(await unreachable.requestCount == 2)
        let open = await #expect(throws: IntrospectionClient.Unavailable.self) { try await unreachable.introspect("t") }
        #expect(open?.description == "the introspection circuit is open")
        #expect(await unreachable.requestCount == 2)

        let issuer = "https://issuer.example"
        let token = try accessToken(key, issuer: issuer)
        let closed = TokenVerifier(
            issuer: issuer, audience: "https://api.example", keys: JWKSet(keys: [key.publicJWK]), mode: .hybrid(unreachable, maximumAge: 0))
        #expect(await #expect(throws: TokenVerificationError.self) { try await closed.verify(token, sensitive: true) }?.code == .introspectionUnavailable)
        let lenient = TokenVerifier(
            issuer: issuer, audience: "https://api.example", keys: JWKSet(keys: [key.publicJWK]), mode: .hybrid(unreachable, maximumAge: 0, failOpen: true)
        )
        #expect(try await lenient.verify(token, sensitive: true).clientID == "tsc_client")
    }
}
