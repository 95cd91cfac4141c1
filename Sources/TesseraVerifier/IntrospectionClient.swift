import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import TesseraJOSE

/// An RFC 7662 introspection client for resource servers that must see revocations
/// before a token expires.
///
/// Answers are cached: active ones until `min(exp, now + positiveTTL)`, inactive ones
/// for `negativeTTL` (an inactive answer replaces an active one at once, so a
/// revocation once observed is never forgotten for that token). Concurrent lookups of
/// one token share one request. Each request has a timeout, and a circuit breaker
/// stops calling an issuer that keeps failing for `breakerCooldown` seconds; while it
/// is open, lookups fail with ``IntrospectionClient/Unavailable``.
public actor IntrospectionClient {
    /// What the issuer said about a token.
    public enum Answer: Sendable, Hashable {
        case active(AccessTokenClaims)
        case inactive
    }

    /// The issuer could not be asked (timeout, error, or the breaker is open).
    public struct Unavailable: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public struct Configuration: Sendable {
        public var positiveTTL: TimeInterval = 60
        public var negativeTTL: TimeInterval = 5
        public var timeout: TimeInterval = 2
        /// Consecutive failures that open the breaker.
        public var breakerThreshold = 5
        public var breakerCooldown: TimeInterval = 30
        /// Entries kept at most.
        public var capacity = 100_000

        public init() {}
    }

    private struct Entry {
        let answer: Answer
        let until: Date
    }

    public let endpoint: String
    private let clientID: String
    private let secret: String
    private let httpClient: HTTPClient
    private let configuration: Configuration
    private let now: @Sendable () -> Date

    private var cache: [[UInt8]: Entry] = [:]
    private var inFlight: [[UInt8]: Task<Answer, any Error>] = [:]
    private var consecutiveFailures = 0
    private var openUntil: Date = .distantPast
    /// Requests sent to the issuer (for tests and metrics).
    public private(set) var requestCount = 0

    public init(
        endpoint: String, clientID: String, secret: String, httpClient: HTTPClient = .shared,
        configuration: Configuration = Configuration(), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.endpoint = endpoint
        self.clientID = clientID
        self.secret = secret
        self.httpClient = httpClient
        self.configuration = configuration
        self.now = now
    }

    /// The issuer's answer for `token`, from the cache when it is fresh.
    public func introspect(_ token: String) async throws -> Answer {
        let key = Array(SHA256.hash(data: Array(token.utf8)))
        let current = now()
        if let entry = cache[key], entry.until > current { return entry.answer }
        if let task = inFlight[key] { return try await task.value }
        guard openUntil <= current else { throw Unavailable(description: "the introspection circuit is open") }
        let task = Task { try await self.ask(token) }
        inFlight[key] = task
        defer { inFlight[key] = nil }
        do {
            let answer = try await task.value
            consecutiveFailures = 0
            store(answer, for: key)
            return answer
        } catch {
            consecutiveFailures += 1
            if consecutiveFailures >= configuration.breakerThreshold {
                openUntil = now().addingTimeInterval(configuration.breakerCooldown)
                consecutiveFailures = 0
            }
            throw error
        }
    }

    private func store(_ answer: Answer, for key: [UInt8]) {
        let current = now()
        let until: Date
        switch answer {
        case .active(let claims):
            until = min(Date(timeIntervalSince1970: TimeInterval(claims.exp)), current.addingTimeInterval(configuration.positiveTTL))
        case .inactive:
            until = current.addingTimeInterval(configuration.negativeTTL)
        }
        if cache.count >= configuration.capacity { cache = cache.filter { $0.value.until > current } }
        if cache.count >= configuration.capacity { cache.removeAll() }
        cache[key] = Entry(answer: answer, until: until)
    }

    /// The latest NumericDate the issuer accepts (9999-12-31T23:59:59Z): the `exp`
    /// of an API token that never expires.
    static let never: Int64 = 253_402_300_799

    /// An API token's answer as claims: no `aud` and no `jti` (it is not a JWT),
    /// `exp` only when it expires.
    static func apiTokenClaims(_ object: [String: Any]) throws -> Answer {
        func integer(_ name: String) -> Int64? { (object[name] as? NSNumber).map { $0.int64Value } }
        guard let iss = object["iss"] as? String, let sub = object["sub"] as? String, let clientID = object["client_id"] as? String,
            let tenant = object["tenant"] as? String, let iat = integer("iat")
        else {
            throw Unavailable(description: "an active API token answer lacks iss, sub, client_id, tenant or iat")
        }
        return .active(
            AccessTokenClaims(
                iss: iss, sub: sub, aud: [], exp: integer("exp") ?? never, iat: iat, nbf: iat, jti: "", clientID: clientID,
                scope: object["scope"] as? String ?? "", tenant: tenant, roles: object["roles"] as? [String] ?? []
            ))
    }

    private func ask(_ token: String) async throws -> Answer {
        requestCount += 1
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        let pair = FormURLEncoding.encode(clientID) + ":" + FormURLEncoding.encode(secret)
        request.headers.add(name: "Authorization", value: "Basic " + Data(pair.utf8).base64EncodedString())
        request.body = .bytes(
            ByteBuffer(
                string: "token=" + FormURLEncoding.encode(token) + "&token_type_hint=" + (TokenVerifier.isAPIToken(token) ? "api_token" : "access_token")))
        let body: ByteBuffer
        do {
            let response = try await httpClient.execute(request, timeout: .milliseconds(Int64(configuration.timeout * 1000)))
            guard response.status == .ok else { throw Unavailable(description: "introspection answered \(response.status.code)") }
            body = try await response.body.collect(upTo: 1 << 20)
        } catch let error as Unavailable {
            throw error
        } catch {
            throw Unavailable(description: "introspection failed: \(error)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any],
            let active = object["active"] as? Bool
        else {
            throw Unavailable(description: "introspection answered something other than an RFC 7662 response")
        }
        guard active else { return .inactive }
        if object["token_type"] as? String == "api_token" { return try Self.apiTokenClaims(object) }
        guard let claims = try? JSONDecoder().decode(AccessTokenClaims.self, from: Data(body.readableBytesView)) else {
            throw Unavailable(description: "an active introspection answer lacks the token's claims")
        }
        return .active(claims)
    }
}
