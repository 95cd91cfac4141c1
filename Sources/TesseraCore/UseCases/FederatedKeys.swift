import Foundation
import Logging
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

    /// Why `text` may not be an issuer or JWKS URL, or `nil` when it may. A host given
    /// as an address must be a public one: loopback (unless allowed), private,
    /// link-local and unspecified addresses are refused. (A name is not resolved here;
    /// docs/threat_model.md says what that leaves.)
    public func problem(with text: String) -> String? {
        guard text.utf8.count <= 512 else { return "must be at most 512 characters" }
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), !host.isEmpty else {
            return "must be an absolute URL"
        }
        guard url.user == nil, url.password == nil else { return "must not carry a user or password" }
        guard url.query == nil, url.fragment == nil else { return "must have no query or fragment" }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let loopback = bare == "localhost" || bare == "::1" || bare.hasPrefix("127.")
        if loopback {
            guard allowsLoopbackHTTP else { return "must not name a loopback host" }
            return scheme == "http" || scheme == "https" ? nil : "must use https"
        }
        if Self.isNonPublicAddress(bare) { return "must not name a private, link-local or unspecified address" }
        switch scheme {
        case "https": return nil
        case "http": return "must use https (http only for a loopback host, when the server allows it)"
        default: return "must use https"
        }
    }

    /// Private (RFC 1918, RFC 4193), link-local, shared (RFC 6598) and unspecified IPv4 and IPv6 literals.
    static func isNonPublicAddress(_ host: String) -> Bool {
        let octets = host.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        if octets.count == 4, octets.allSatisfy({ $0 != nil }) {
            let a = octets[0]!, b = octets[1]!
            return a == 0 || a == 10 || (a == 172 && (16...31).contains(b)) || (a == 192 && b == 168) || (a == 169 && b == 254)
                || (a == 100 && (64...127).contains(b))
        }
        guard host.contains(":") else { return false }
        let first = host.split(separator: ":", omittingEmptySubsequences: false).first.map { String($0).lowercased() } ?? ""
        return host == "::" || first.hasPrefix("fc") || first.hasPrefix("fd") || first.hasPrefix("fe8") || first.hasPrefix("fe9")
            || first.hasPrefix("fea") || first.hasPrefix("feb") || host.hasPrefix("::ffff:")
    }
}

/// The signing keys of outside issuers, fetched from the URLs their credentials
/// name (never from a token), cached as their `Cache-Control` says, and fetched again
/// when a token names an unknown `kid`, at most once per ``refetchInterval`` per source
/// (counted from the last attempt, failed or not). Concurrent requests for one source
/// share one fetch. While a source cannot be reached, the keys fetched before keep
/// working for ``staleLimit`` past their expiry; a source that answers with no usable
/// key has withdrawn its keys, and they are dropped at once.
public actor FederatedKeys {
    /// Fetches a URL with GET; the executable supplies one built on an HTTP client,
    /// with one deadline over the whole exchange.
    public typealias Fetch = @Sendable (_ url: String) async throws -> FetchedDocument

    /// How often, at most, one source is fetched for an unknown `kid` or after a failure.
    public static let refetchInterval: TimeInterval = 10
    /// Bounds on how long fetched keys are kept, and the time without `max-age`.
    public static let minimumAge = 60, maximumAge = 86_400, defaultAge = 300
    /// How long past their expiry fetched keys still serve while their source is down.
    public static let staleLimit: TimeInterval = 86_400
    /// Largest document read.
    public static let maximumDocumentSize = 256 * 1024

    /// Why the keys could not be had. `description` is what a tenant's administrator
    /// may read (the dry run, the audit log); `detail`, with the URLs and statuses,
    /// goes to the server log only, so the fetches cannot serve to probe a network.
    public struct Unavailable: Error, Sendable, CustomStringConvertible {
        public let detail: String
        public var description: String { "the issuer's keys could not be fetched or read" }

        public init(_ detail: String) {
            self.detail = detail
        }
    }

    private struct Entry {
        var keys: [VerificationKey]
        var expiresAt: Date
    }

    private let fetch: Fetch
    private let policy: FederationURLPolicy
    private let now: @Sendable () -> Date
    private let logger = Logger(label: "tessera.federation")
    private var entries: [String: Entry] = [:]
    private var lastAttempt: [String: Date] = [:]
    private var lastFailure: [String: Unavailable] = [:]
    private var inFlight: [String: Task<[VerificationKey], any Error>] = [:]
    /// Inline key sets as parsed, by their text: RSA keys cost a parse each.
    private var inlineKeys: [String: [VerificationKey]] = [:]

    public init(policy: FederationURLPolicy, now: @escaping @Sendable () -> Date = { Date() }, fetch: @escaping Fetch) {
        self.policy = policy
        self.now = now
        self.fetch = fetch
    }

    /// The keys that may verify a token of `credential`'s issuer whose header names `kid`.
    public func keys(for credential: FederatedCredential, kid: String?) async throws(Unavailable) -> [VerificationKey] {
        if let inline = credential.jwks {
            if let parsed = inlineKeys[inline] { return parsed }
            do {
                let parsed = try Self.keys(fromJWKS: Array(inline.utf8))
                if inlineKeys.count >= 1_000 { inlineKeys.removeAll(keepingCapacity: true) }
                inlineKeys[inline] = parsed
                return parsed
            } catch {
                throw Unavailable("the credential's inline keys cannot be read: \(error.description)")
            }
        }
        let source = credential.jwksURI.map { "jwks " + $0 } ?? "issuer " + credential.issuer
        let time = now()
        let entry = entries[source]
        if let entry, entry.expiresAt > time, kid.map({ kid in entry.keys.contains { $0.keyID == kid } }) ?? true {
            return entry.keys
        }
        if inFlight[source] == nil, let last = lastAttempt[source], time.timeIntervalSince(last) < Self.refetchInterval {
            if let entry, time.timeIntervalSince(entry.expiresAt) < Self.staleLimit { return entry.keys }
            throw lastFailure[source] ?? Unavailable("fetched less than \(Int(Self.refetchInterval)) s ago")
        }
        let task: Task<[VerificationKey], any Error>
        if let running = inFlight[source] {
            task = running
        } else {
            lastAttempt[source] = time
            task = Task { try await self.load(source: source, credential: credential) }
            inFlight[source] = task
        }
        do {
            let keys = try await task.value
            if inFlight[source] == task { inFlight[source] = nil }
            return keys
        } catch {
            if inFlight[source] == task { inFlight[source] = nil }
            let failure = error as? Unavailable ?? Unavailable("the issuer's keys could not be fetched")
            lastFailure[source] = failure
            logger.notice("issuer keys unavailable", metadata: ["source": "\(source.prefix(600))", "reason": "\(failure.detail.prefix(600))"])
            // Keys fetched before still verify while the issuer cannot be reached.
            if let stale = entries[source], now().timeIntervalSince(stale.expiresAt) < Self.staleLimit { return stale.keys }
            throw failure
        }
    }

    private func load(source: String, credential: FederatedCredential) async throws -> [VerificationKey] {
        let jwksURI: String
        if let configured = credential.jwksURI {
            jwksURI = configured
        } else {
            jwksURI = try await discover(issuer: credential.issuer)
        }
        if let problem = policy.problem(with: jwksURI) { throw Unavailable("jwks_uri \(jwksURI) \(problem)") }
        let document = try await get(jwksURI)
        guard document.status == 200 else { throw Unavailable("\(jwksURI) answered \(document.status)") }
        let keys: [VerificationKey]
        do {
            keys = try Self.keys(fromJWKS: document.body)
        } catch {
            // The issuer answered, with no key that can verify: it has withdrawn them.
            entries[source] = nil
            throw Unavailable("\(jwksURI) is not a usable JWK Set: \(error.description)")
        }
        let age = min(max(document.maxAge ?? Self.defaultAge, Self.minimumAge), Self.maximumAge)
        entries[source] = Entry(keys: keys, expiresAt: now().addingTimeInterval(TimeInterval(age)))
        lastFailure[source] = nil
        return keys
    }

    /// The `jwks_uri` of the issuer's OpenID discovery document, whose `issuer` must be
    /// the issuer itself; without a discovery document, `issuer/.well-known/jwks.json`.
    /// A trailing `/` of the issuer is not doubled in either URL.
    private func discover(issuer: String) async throws -> String {
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let discovery = try await get(base + "/.well-known/openid-configuration")
        guard discovery.status == 200 else {
            guard discovery.status == 404 else { throw Unavailable("the issuer's discovery document answered \(discovery.status)") }
            return base + "/.well-known/jwks.json"
        }
        guard let members = try? JSONValue.parse(discovery.body).object, let jwksURI = members["jwks_uri"]?.string else {
            throw Unavailable("the issuer's discovery document has no jwks_uri")
        }
        guard members["issuer"]?.string == issuer else {
            throw Unavailable("the discovery document's issuer is not \(issuer)")
        }
        return jwksURI
    }

    private func get(_ url: String) async throws -> FetchedDocument {
        let document: FetchedDocument
        do {
            document = try await fetch(url)
        } catch {
            throw Unavailable("\(url) could not be fetched")
        }
        guard document.body.count <= Self.maximumDocumentSize else { throw Unavailable("\(url) is larger than 256 KiB") }
        return document
    }

    /// A JWK Set an administrator gives inline, as it is stored: every member a
    /// public signing key Tessera can verify with (an RSA key without `alg` taken as
    /// RS256), written back with only its public members and its algorithm.
    public static func normalizedInlineJWKS(_ bytes: [UInt8]) throws(JOSEError) -> String {
        guard let members = try? JSONValue.parse(bytes).object, case .array(let list)? = members["keys"], !list.isEmpty, list.count <= 100 else {
            throw JOSEError.malformed("jwks must be an object with a \"keys\" array of 1–100 keys")
        }
        var keys: [JWK] = []
        for value in list {
            guard let object = value.object, var jwk = try? JWK(members: object) else { throw JOSEError.malformed("every key must be a JWK object") }
            guard !jwk.isPrivate, jwk.kty != "oct" else { throw JOSEError.invalidKey("keys must be public: no d, p, q, and no symmetric (oct) keys") }
            if jwk.kty == "RSA", jwk.alg == nil { jwk.alg = JWSAlgorithm.rs256.rawValue }
            let key: VerificationKey
            do {
                key = try VerificationKey(jwk: jwk)
            } catch let error as JOSEError {
                throw error
            } catch {
                throw JOSEError.invalidKey("a key cannot be used")
            }
            jwk.alg = key.algorithm.rawValue
            keys.append(jwk)
        }
        guard let data = try? JSONEncoder().encode(JWKSet(keys: keys)) else { throw JOSEError.malformed("jwks cannot be written") }
        return String(decoding: data, as: UTF8.self)
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
