import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import TesseraTestSupport
import Testing

@testable import TesseraServer

/// A Tessera on a fresh SQLite file behind the real router.
struct ServerHarness {
    static let issuer = "http://tessera.test"

    let tessera: Tessera
    let directory: URL
    let app: Application<FrontResponder<RouterResponder<TesseraRequestContext>>>
    /// The clock every part of this Tessera reads, when the test gave one (else the system clock).
    let clock: TestClock?
    /// The store in front of the SQLite file: a switch a test turns off to make it unreachable.
    let storage: SwitchableStorage
    /// The master key the store's signing keys and the console's sign-in links are sealed under.
    let masterKey: MasterKey

    /// - Parameters:
    ///   - clock: the clock Tessera reads (token times, throttle, rate limit, expiry); `nil` for the system clock.
    ///   - tokenRateLimit: tokens per second per account (`--token-rate-limit`); `nil` for none.
    ///   - startKeyRing: false leaves the key ring unloaded, as a server whose signing key could not be loaded.
    init(
        jwksMaxAge: Int = 300, throttle: AuthenticationThrottle.Policy? = AuthenticationThrottle.Policy(),
        maximumAssertionLifetime: Int64 = ClientAssertion.defaultMaximumLifetime,
        clock: TestClock? = nil, tokenRateLimit: Double? = nil, startKeyRing: Bool = true
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-http-\(UUID().uuidString)")
        storage = SwitchableStorage(try SQLiteStorage(path: directory.appendingPathComponent("tessera.sqlite").path))
        self.clock = clock
        let dependencies = clock.map { clock in Dependencies(now: { clock.now }, randomBytes: Dependencies.live.randomBytes) } ?? .live
        masterKey = .generate()
        tessera = Tessera(
            issuer: Self.issuer, storage: storage, masterKey: masterKey, dependencies: dependencies, throttle: throttle,
            tokenRateLimit: tokenRateLimit, maximumAssertionLifetime: maximumAssertionLifetime
        )
        if startKeyRing { try await tessera.start(signingAlgorithm: .es256) }
        app = Application(router: TesseraHTTP.router(tessera: tessera, configuration: .init(jwksMaxAge: jwksMaxAge)))
    }

    /// Makes every store call fail as an unreachable database does (`true`), or answer again.
    func storeDown(_ down: Bool) {
        storage.down.withLock { $0 = down }
    }

    func cleanup() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Credentials of a new account with `role` in tenant `slug` (created if missing).
    func credentials(tenant slug: String = "acme", role: String = "admin") async throws -> Bootstrap.Result {
        try await Bootstrap(tenants: tessera.tenants, accounts: tessera.accounts).run(tenantSlug: slug, role: role)
    }

    func run<Value>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        try await app.test(.router, body)
    }
}

extension TestClientProtocol {
    /// POSTs a form to the token endpoint.
    func token(
        _ form: String, basic: (String, String)? = nil, contentType: String? = "application/x-www-form-urlencoded"
    ) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let contentType { headers[.contentType] = contentType }
        if let (id, secret) = basic {
            headers[.authorization] = "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
        }
        return try await execute(uri: "/oauth2/token", method: .post, headers: headers, body: ByteBuffer(string: form))
    }

    /// An access token for `credentials` through the real endpoint.
    func accessToken(_ credentials: Bootstrap.Result) async throws -> String {
        let response = try await token("grant_type=client_credentials", basic: (credentials.clientID, credentials.clientSecret))
        #expect(response.status == .ok)
        return try #require(try response.jsonObject()["access_token"] as? String)
    }

    func createAccount(tenant: String, token: String?, body: String, contentType: String? = "application/json") async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let contentType { headers[.contentType] = contentType }
        return try await execute(uri: "/v1/tenants/\(tenant)/service-accounts", method: .post, headers: headers, body: ByteBuffer(string: body))
    }
}

extension TestClientProtocol {
    /// An admin API call with a Bearer token and an optional JSON body.
    func call(_ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    func items() throws -> [[String: Any]] {
        try #require(try jsonObject()["items"] as? [[String: Any]])
    }

    func jsonObject() throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView))
        return try #require(object as? [String: Any])
    }

    var text: String { String(buffer: body) }

    /// The JSON body with its keys sorted, to compare with an expected document exactly
    /// (see ``canonicalJSON(_:)``).
    func canonicalJSON() throws -> String {
        try TesseraServerTests.canonicalJSON(text)
    }
}

/// `json` with its object keys sorted and no whitespace: two documents are equal
/// when their canonical forms are.
func canonicalJSON(_ json: String) throws -> String {
    let object = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
    return String(decoding: data, as: UTF8.self)
}
