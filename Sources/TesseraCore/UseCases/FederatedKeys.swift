import Foundation
import TesseraJOSE

/// A document fetched over HTTP for federation: an issuer's discovery document or JWKS.
public struct FetchedDocument: Sendable {
    public let status: Int
    public let body: [UInt8]
    /// `Cache-Control: max-age`, in seconds, when the answer had one.
    public let maxAge: Int?

    public init(status: Int, body: [UInt8], maxAge: Int?) {
        self.status = status
        self.body = body
        self.maxAge = maxAge
    }
}

/// Which URLs federation may fetch: `https://` ones, and `http://` on a loopback host
/// only when the operator allows it (a stand-in issuer in tests, a sidecar).
public struct FederationURLPolicy: Sendable, Hashable {
    public var allowsLoopbackHTTP: Bool

    public init(allowsLoopbackHTTP: Bool = false) {
        self.allowsLoopbackHTTP = allowsLoopbackHTTP
    }

    /// Why `text` may not be an issuer or JWKS URL, or `nil` when it may.
    public func problem(with text: String) -> String? {
        guard text.utf8.count <= 512 else { return "must be at most 512 characters" }
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            return "must be an absolute URL"
        }
        guard url.user == nil, url.password == nil else { return "must not carry a user or password" }
        guard url.query == nil, url.fragment == nil else { return "must have no query or fragment" }
        switch scheme {
        case "https": return nil
        case "http" where allowsLoopbackHTTP && ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased()): return nil
        case "http": return "must use https (http only for a loopback host, when the server allows it)"
        default: return "must use https"
        }
    }
}

/// The signing keys of outside issuers, fetched from the URLs their credentials
/// name (never from a token), cached as their `Cache-Control` says, and fetched again
/// when a token names an unknown `kid`, at most once per ``refetchInterval`` per source.
/// Concurrent requests for one source share one fetch.
public actor FederatedKeys {
    /// Fetches a URL with GET; the executable supplies one built on an HTTP client.
    public typealias Fetch = @Sendable (_ url: String) async throws -> FetchedDocument

    /// How often, at most, one source is fetched for an unknown `kid` or after a failure.
    public static let refetchInterval: TimeInterval = 10
    /// Bounds on how long fetched keys are kept, and the time without `max-age`.
    public static let minimumAge = 60, maximumAge = 86_400, defaultAge = 300
    /// Largest document read.
    public static let maximumDocumentSize = 256 * 1024

    /// Why the keys could not be had; the words go to the audit log, not to the caller.
    public struct Unavailable: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    private struct Entry {
        var keys: [VerificationKey]
        var expiresAt: Date
        var fetchedAt: Date
    }

    private let fetch: Fetch
    private let policy: FederationURLPolicy
    private let now: @Sendable () -> Date
    private var entries: [String: Entry] = [:]
    private var failures: [String: (at: Date, reason: String)] = [:]
    private var inFlight: [String: Task<[VerificationKey], any Error>] = [:]
    /// Fetches made, for tests and metrics.
    public private(set) var fetches = 0

    public init(policy: FederationURLPolicy, now: @escaping @Sendable () -> Date = { Date() }, fetch: @escaping Fetch) {
        self.policy = policy
        self.now = now
        self.fetch = fetch
    }

    /// The keys that may verify a token of `credential`'s issuer whose header names `kid`.
    public func keys(for credential: FederatedCredential, kid: String?) async throws(Unavailable) -> [VerificationKey] {
        if let inline = credential.jwks {
            do {
                return try Self.keys(fromJWKS: Array(inline.utf8))
            } catch {
                throw Unavailable(description: "the credential's inline keys cannot be read: \(error.description)")
            }
        }
        let source = credential.jwksURI.map { "jwks " + $0 } ?? "issuer " + credential.issuer
        let time = now()
        if let entry = entries[source], entry.expiresAt > time {
            let known = kid.map { kid in entry.keys.contains { $0.keyID == kid } } ?? true
            if known || time.timeIntervalSince(entry.fetchedAt) < Self.refetchInterval { return entry.keys }
        } else if let failure = failures[source], time.timeIntervalSince(failure.at) < Self.refetchInterval {
            if let stale = entries[source] { return stale.keys }
            throw Unavailable(description: failure.reason)
        }
        let task: Task<[VerificationKey], any Error>
        if let running = inFlight[source] {
            task = running
        } else {
            task = Task { try await self.load(source: source, credential: credential) }
            inFlight[source] = task
        }
        do {
            let keys = try await task.value
            inFlight[source] = nil
            return keys
        } catch {
            inFlight[source] = nil
            let reason = (error as? Unavailable)?.description ?? "the issuer's keys could not be fetched"
            failures[source] = (now(), reason)
            // Keys fetched before still verify while the issuer cannot be reached.
            if let stale = entries[source] { return stale.keys }
            throw Unavailable(description: reason)
        }
    }

    private func load(source: String, credential: FederatedCredential) async throws -> [VerificationKey] {
        let jwksURI: String
        if let configured = credential.jwksURI {
            jwksURI = configured
        } else {
            jwksURI = try await discover(issuer: credential.issuer)
        }
        if let problem = policy.problem(with: jwksURI) { throw Unavailable(description: "jwks_uri \(jwksURI) \(problem)") }
        let document = try await get(jwksURI)
        guard document.status == 200 else { throw Unavailable(description: "\(jwksURI) answered \(document.status)") }
        let keys: [VerificationKey]
        do {
            keys = try Self.keys(fromJWKS: document.body)
        } catch {
            throw Unavailable(description: "\(jwksURI) is not a usable JWK Set: \(error.description)")
        }
        let time = now()
        let age = min(max(document.maxAge ?? Self.defaultAge, Self.minimumAge), Self.maximumAge)
        entries[source] = Entry(keys: keys, expiresAt: time.addingTimeInterval(TimeInterval(age)), fetchedAt: time)
        failures[source] = nil
        return keys
    }

    /// The `jwks_uri` of the issuer's OpenID discovery document, whose `issuer` must be
    /// the issuer itself; without a discovery document, `issuer/.well-known/jwks.json`.
    private func discover(issuer: String) async throws -> String {
        let discovery = try await get(issuer + "/.well-known/openid-configuration")
        guard discovery.status == 200 else {
            guard discovery.status == 404 else { throw Unavailable(description: "the issuer's discovery document answered \(discovery.status)") }
            return issuer + "/.well-known/jwks.json"
        }
        guard let members = try? JSONValue.parse(discovery.body).object, let jwksURI = members["jwks_uri"]?.string else {
            throw Unavailable(description: "the issuer's discovery document has no jwks_uri")
        }
        guard members["issuer"]?.string == issuer else {
            throw Unavailable(description: "the discovery document's issuer is not \(issuer)")
        }
        return jwksURI
    }

    private func get(_ url: String) async throws -> FetchedDocument {
        fetches += 1
        let document: FetchedDocument
        do {
            document = try await fetch(url)
        } catch {
            throw Unavailable(description: "\(url) could not be fetched")
        }
        guard document.body.count <= Self.maximumDocumentSize else { throw Unavailable(description: "\(url) is larger than 256 KiB") }
        return document
    }

    /// The usable signing keys of a JWK Set. An RSA key that names no `alg` is taken
    /// as RS256, the one algorithm every issuer of such keys uses; keys that cannot
    /// verify (encryption keys, symmetric keys, unsupported curves) are skipped.
    public static func keys(fromJWKS bytes: [UInt8]) throws(JOSEError) -> [VerificationKey] {
        guard let members = try? JSONValue.parse(bytes).object, case .array(let list)? = members["keys"] else {
            throw JOSEError.malformed("not a JSON object with a \"keys\" array")
        }
        guard list.count <= 100 else { throw JOSEError.malformed("more than 100 keys") }
        var keys: [VerificationKey] = []
        for value in list {
            guard let object = value.object, var jwk = try? JWK(members: object), !jwk.isPrivate, jwk.kty != "oct" else { continue }
            if jwk.kty == "RSA", jwk.alg == nil { jwk.alg = JWSAlgorithm.rs256.rawValue }
            if let key = try? VerificationKey(jwk: jwk) { keys.append(key) }
        }
        guard !keys.isEmpty else { throw JOSEError.malformed("no usable signing key") }
        return keys
    }
}
