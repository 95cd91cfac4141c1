import AsyncHTTPClient
import Foundation
import NIOCore
import TesseraJOSE

/// Access tokens for calling other services, obtained with the client-credentials
/// grant and cached: the caller side of Tessera, like Go's `clientcredentials.Config`.
///
/// ```swift
/// let source = TokenSource(
///     tokenURL: "https://auth.example.com/oauth2/token",
///     clientID: "tsc_…", credentials: .secret(secret), scopes: ["orders:read"]
/// )
/// var request = HTTPClientRequest(url: "https://orders.example.com/orders")
/// try await source.authorize(&request)   // adds "Authorization: Bearer …"
/// ```
///
/// One fetch serves every concurrent caller; the token is renewed `refreshAhead`
/// seconds (at most a third of its lifetime) before it expires; transient failures
/// (connection errors, 429 and 5xx) are retried with exponential back-off.
///
/// With a `dpopKey` the tokens are DPoP-bound (RFC 9449, docs/binding.md): every
/// token request carries a fresh proof, a `use_dpop_nonce` answer is retried once
/// with the nonce the server gave (and that nonce is sent from then on), and
/// ``authorize(_:)`` sets `Authorization: DPoP <token>` and a proof for the request's
/// method and URL:
///
/// ```swift
/// let source = TokenSource(tokenURL: tokenURL, clientID: id, credentials: .secret(secret),
///                          dpopKey: try SigningKey.generate(.es256))
/// ```
public actor TokenSource {
    /// How the client authenticates at the token endpoint.
    public enum Credentials: Sendable {
        /// `client_secret_basic` (RFC 6749 §2.3.1).
        case secret(String)
        /// `private_key_jwt` (RFC 7523 §2.2): assertions signed with `key`, naming `kid`.
        case privateKey(SigningKey, kid: String)
        /// A federated credential (docs/federation.md): the token another issuer gave
        /// this workload, read from the file at `path` on every request, so a token
        /// the platform rotates (a Kubernetes projected service-account token) is
        /// picked up; sent as the client assertion with `client_id`.
        case federatedTokenFile(String)
    }

    /// A token and when it expires.
    public struct Token: Sendable, Hashable {
        public let accessToken: String
        public let expiresAt: Date
        public let scope: String?
        /// `Bearer`, or `DPoP` for a token bound to ``TokenSource``'s DPoP key
        /// (RFC 9449 §5): the `Authorization` scheme it is sent with.
        public let tokenType: String
    }

    /// Why no token could be had.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// The HTTP status, when the endpoint answered.
        public let status: Int?
        /// The OAuth `error`, when the endpoint sent one.
        public let error: String?
        public let description: String
        /// The `DPoP-Nonce` the endpoint answered with, if any.
        let nonce: String?

        init(status: Int?, error: String?, description: String, nonce: String? = nil) {
            self.status = status
            self.error = error
            self.description = description
            self.nonce = nonce
        }
    }

    public let tokenURL: String
    public let clientID: String
    private let credentials: Credentials
    private let scopes: [String]
    private let audience: String?
    private let httpClient: HTTPClient
    private let refreshAhead: TimeInterval
    private let maximumAttempts: Int
    private let now: @Sendable () -> Date
    /// The key DPoP proofs are signed with, when tokens are to be DPoP-bound.
    private let dpopKey: SigningKey?
    /// The token endpoint's latest `DPoP-Nonce` (RFC 9449 §8), sent in every proof to it.
    private var dpopNonce: String?

    private var current: Token?
    private var inFlight: Task<Token, any Error>?

    /// - Parameter dpopKey: a key pair for DPoP (RFC 9449): tokens are requested
    ///   bound to it and presented with proofs it signs. Generate one per process
    ///   (`SigningKey.generate(.es256)`); it never leaves it.
    public init(
        tokenURL: String, clientID: String, credentials: Credentials, scopes: [String] = [], audience: String? = nil,
        dpopKey: SigningKey? = nil, httpClient: HTTPClient = .shared, refreshAhead: TimeInterval = 60, maximumAttempts: Int = 4,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.credentials = credentials
        self.scopes = scopes
        self.audience = audience
        self.dpopKey = dpopKey
        self.httpClient = httpClient
        self.refreshAhead = refreshAhead
        self.maximumAttempts = max(1, maximumAttempts)
        self.now = now
    }

    /// A token source for a Tessera issuer, whose token endpoint is `issuer/oauth2/token`.
    public init(
        issuer: String, clientID: String, credentials: Credentials, scopes: [String] = [], audience: String? = nil,
        dpopKey: SigningKey? = nil, httpClient: HTTPClient = .shared
    ) {
        self.init(
            tokenURL: TokenVerifier.normalizeIssuer(issuer) + "/oauth2/token", clientID: clientID, credentials: credentials,
            scopes: scopes, audience: audience, dpopKey: dpopKey, httpClient: httpClient
        )
    }

    /// A valid access token, fetched only when the cached one is missing or near expiry.
    public func token() async throws -> String {
        try await currentToken().accessToken
    }

    /// The cached token with its expiry, renewing it as ``token()`` does.
    public func currentToken() async throws -> Token {
        if let current, !needsRefresh(current) { return current }
        if let inFlight { return try await inFlight.value }
        let task = Task { try await self.fetchWithRetries() }
        inFlight = task
        defer { inFlight = nil }
        let token = try await task.value
        current = token
        return token
    }

    /// Adds `Authorization: Bearer <token>` to an outgoing request; for a DPoP token,
    /// `Authorization: DPoP <token>` and a `DPoP` proof for the request's method and URL.
    public func authorize(_ request: inout HTTPClientRequest) async throws {
        let headers = try await authorizationHeaders(method: request.method.rawValue, url: request.url)
        request.headers.remove(name: "DPoP")
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { request.headers.replaceOrAdd(name: name, value: value) }
    }

    /// The headers that authorize a request with `method` to `url`, for HTTP clients
    /// other than AsyncHTTPClient: `Authorization`, and `DPoP` with a fresh proof
    /// (whose `ath` is the token's hash, RFC 9449 §7) when the token is DPoP-bound.
    public func authorizationHeaders(method: String, url: String) async throws -> [String: String] {
        let token = try await currentToken()
        guard token.tokenType == "DPoP", let dpopKey else { return ["Authorization": "Bearer " + token.accessToken] }
        return [
            "Authorization": "DPoP " + token.accessToken,
            "DPoP": try proof(dpopKey, method: method, url: url, accessToken: token.accessToken, nonce: nil),
        ]
    }

    /// A DPoP proof for `method` and `url` (sent without query and fragment, RFC 9449
    /// §4.2), issued now with a random `jti`.
    private func proof(_ key: SigningKey, method: String, url: String, accessToken: String?, nonce: String?) throws -> String {
        let target = String(url.prefix { $0 != "?" && $0 != "#" })
        let jti = Base64URL.encode((0..<16).map { _ in UInt8.random(in: 0...255) })
        return try DPoPProof.sign(
            with: key, method: method, url: target, iat: TimeClaims.seconds(now()), jti: jti, accessToken: accessToken, nonce: nonce)
    }

    /// Forgets the cached token, e.g. after a resource server answered 401.
    public func invalidate() {
        current = nil
    }

    private func needsRefresh(_ token: Token) -> Bool {
        token.expiresAt.timeIntervalSince(now()) <= refreshAhead
    }

    private func fetchWithRetries() async throws -> Token {
        var delay: Duration = .milliseconds(200)
        var attempt = 1
        while true {
            do {
                return try await fetch()
            } catch let failure as Failure where attempt < maximumAttempts && Self.isTransient(failure) {
                try await Task.sleep(for: delay)
                delay *= 2
                attempt += 1
            }
        }
    }

    private static func isTransient(_ failure: Failure) -> Bool {
        guard let status = failure.status else { return true }
        return status == 429 || status >= 500
    }

    /// One token request; with a DPoP key, answered `use_dpop_nonce` with a nonce,
    /// sent once more with that nonce (RFC 9449 §8).
    private func fetch() async throws -> Token {
        var retriedWithNonce = false
        while true {
            do {
                return try await fetchOnce()
            } catch let failure as Failure where failure.error == "use_dpop_nonce" && dpopKey != nil && failure.nonce != nil && !retriedWithNonce {
                retriedWithNonce = true
            }
        }
    }

    private func fetchOnce() async throws -> Token {
        var form = ["grant_type": "client_credentials"]
        if !scopes.isEmpty { form["scope"] = scopes.joined(separator: " ") }
        if let audience { form["resource"] = audience }
        var request = HTTPClientRequest(url: tokenURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        switch credentials {
        case .secret(let secret):
            let pair = FormURLEncoding.encode(clientID) + ":" + FormURLEncoding.encode(secret)
            request.headers.add(name: "Authorization", value: "Basic " + Data(pair.utf8).base64EncodedString())
        case .privateKey(let key, let kid):
            form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            form["client_assertion"] = try assertion(key: key, kid: kid)
            form["client_id"] = clientID
        case .federatedTokenFile(let path):
            form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            form["client_assertion"] = try Self.readToken(path)
            form["client_id"] = clientID
        }
        request.body = .bytes(
            ByteBuffer(
                string: form.sorted { $0.key < $1.key }.map { "\(FormURLEncoding.encode($0.key))=\(FormURLEncoding.encode($0.value))" }.joined(separator: "&")))
        if let dpopKey {
            request.headers.add(name: "DPoP", value: try proof(dpopKey, method: "POST", url: tokenURL, accessToken: nil, nonce: dpopNonce))
        }
        let issuedAt = now()
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: .seconds(10))
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw Failure(status: nil, error: nil, description: "the token endpoint could not be reached: \(error)")
        }
        // Any answer may carry the nonce to use next (RFC 9449 §8.2).
        let nonce = dpopKey == nil ? nil : response.headers.first(name: "DPoP-Nonce").flatMap { $0.isEmpty ? nil : $0 }
        if let nonce { dpopNonce = nonce }
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
        guard response.status == .ok else {
            throw Failure(
                status: Int(response.status.code), error: object?["error"] as? String,
                description: "the token endpoint answered \(response.status.code)" + ((object?["error_description"] as? String).map { ": \($0)" } ?? ""),
                nonce: nonce
            )
        }
        guard let accessToken = object?["access_token"] as? String, let expiresIn = object?["expires_in"] as? Int, expiresIn > 0 else {
            throw Failure(status: Int(response.status.code), error: nil, description: "the token response lacks access_token or expires_in")
        }
        // RFC 9449 §5: a DPoP token is sent with the DPoP scheme; one the server
        // bound without being asked cannot be presented, having no key to prove.
        let dpop = (object?["token_type"] as? String)?.lowercased() == "dpop"
        guard !dpop || dpopKey != nil else {
            throw Failure(status: Int(response.status.code), error: nil, description: "the token endpoint answered a DPoP token to a request without a proof")
        }
        return Token(
            accessToken: accessToken, expiresAt: issuedAt.addingTimeInterval(TimeInterval(expiresIn)), scope: object?["scope"] as? String,
            tokenType: dpop ? "DPoP" : "Bearer")
    }

    /// The token in the file at `path`, without surrounding whitespace. A missing or
    /// unreadable file is a ``Failure`` without a status, so it is retried: the
    /// platform may be writing the file anew.
    static func readToken(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 64 * 1024 else {
            throw Failure(status: nil, error: nil, description: "the federated token file \(path) cannot be read")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw Failure(status: nil, error: nil, description: "the federated token file \(path) is empty") }
        return token
    }

    private func assertion(key: SigningKey, kid: String) throws -> String {
        let issuedAt = Int64(now().timeIntervalSince1970)
        let claims: [String: Any] = [
            "iss": clientID, "sub": clientID, "aud": tokenURL, "iat": issuedAt, "exp": issuedAt + 120,
            "jti": Base64URL.encode((0..<16).map { _ in UInt8.random(in: 0...255) }),
        ]
        let header = Base64URL.encode(#"{"alg":"\#(key.algorithm.rawValue)","kid":"\#(kid)","typ":"JWT"}"#)
        let payload = Base64URL.encode(Array(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys, .withoutEscapingSlashes])))
        let signature = try key.sign(Array("\(header).\(payload)".utf8))
        return "\(header).\(payload).\(Base64URL.encode(signature))"
    }
}

/// `application/x-www-form-urlencoded` encoding (RFC 6749 Appendix B), as token
/// requests and `client_secret_basic` credentials use it.
public enum FormURLEncoding {
    public static func encode(_ value: String) -> String {
        var output = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "*"):
                output.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: " "):
                output.append("+")
            default:
                output.append(String(format: "%%%02X", byte))
            }
        }
        return output
    }
}
