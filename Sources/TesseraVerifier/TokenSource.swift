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
    }

    /// Why no token could be had.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// The HTTP status, when the endpoint answered.
        public let status: Int?
        /// The OAuth `error`, when the endpoint sent one.
        public let error: String?
        public let description: String
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

    private var current: Token?
    private var inFlight: Task<Token, any Error>?

    public init(
        tokenURL: String, clientID: String, credentials: Credentials, scopes: [String] = [], audience: String? = nil,
        httpClient: HTTPClient = .shared, refreshAhead: TimeInterval = 60, maximumAttempts: Int = 4,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.credentials = credentials
        self.scopes = scopes
        self.audience = audience
        self.httpClient = httpClient
        self.refreshAhead = refreshAhead
        self.maximumAttempts = max(1, maximumAttempts)
        self.now = now
    }

    /// A token source for a Tessera issuer, whose token endpoint is `issuer/oauth2/token`.
    public init(
        issuer: String, clientID: String, credentials: Credentials, scopes: [String] = [], audience: String? = nil,
        httpClient: HTTPClient = .shared
    ) {
        self.init(
            tokenURL: TokenVerifier.normalizeIssuer(issuer) + "/oauth2/token", clientID: clientID, credentials: credentials,
            scopes: scopes, audience: audience, httpClient: httpClient
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

    /// Adds `Authorization: Bearer <token>` to an outgoing request.
    public func authorize(_ request: inout HTTPClientRequest) async throws {
        request.headers.replaceOrAdd(name: "Authorization", value: "Bearer " + (try await token()))
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

    private func fetch() async throws -> Token {
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
        let issuedAt = now()
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: .seconds(10))
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw Failure(status: nil, error: nil, description: "the token endpoint could not be reached: \(error)")
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
        guard response.status == .ok else {
            throw Failure(
                status: Int(response.status.code), error: object?["error"] as? String,
                description: "the token endpoint answered \(response.status.code)" + ((object?["error_description"] as? String).map { ": \($0)" } ?? "")
            )
        }
        guard let accessToken = object?["access_token"] as? String, let expiresIn = object?["expires_in"] as? Int, expiresIn > 0 else {
            throw Failure(status: Int(response.status.code), error: nil, description: "the token response lacks access_token or expires_in")
        }
        return Token(accessToken: accessToken, expiresAt: issuedAt.addingTimeInterval(TimeInterval(expiresIn)), scope: object?["scope"] as? String)
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
