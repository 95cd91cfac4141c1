import AsyncHTTPClient
import Foundation
import TesseraJOSE

/// Where a verifier gets the issuer's keys: discovered through RFC 8414 metadata,
/// fetched from the JWKS, and cached for the `max-age` the issuer sends.
///
/// One refresh runs at a time (concurrent callers share it); an unknown `kid`
/// triggers at most one refresh per ``TokenVerifier/Configuration/minimumRefreshInterval``;
/// when a refresh fails, the last good key set keeps serving.
actor JWKSSource {
    private let issuer: String
    private let httpClient: HTTPClient
    private let configuration: TokenVerifier.Configuration
    private let now: @Sendable () -> Date

    private var keys: KeySet?
    private var expiresAt: Date = .distantPast
    /// When the current key set was last fetched successfully.
    private var fetchedAt: Date = .distantPast
    private var lastAttempt: Date = .distantPast
    private var inFlight: Task<(KeySet, TimeInterval), any Error>?

    init(issuer: String, httpClient: HTTPClient, configuration: TokenVerifier.Configuration, now: @escaping @Sendable () -> Date) {
        self.issuer = issuer
        self.httpClient = httpClient
        self.configuration = configuration
        self.now = now
    }

    /// The key for `kid`, refreshing when the cache has expired or (rate-limited) when `kid` is unknown.
    func key(for kid: String) async throws -> VerificationKey {
        let current = now()
        if keys == nil || current >= expiresAt {
            try await refresh(force: keys == nil)
        }
        if let key = keys?[kid] { return key }
        if current.timeIntervalSince(lastAttempt) >= configuration.minimumRefreshInterval {
            try await refresh(force: true)
            if let key = keys?[kid] { return key }
        }
        throw TokenVerificationError(.unknownKey, "no published key has kid \"\(kid)\"")
    }

    private func refresh(force: Bool) async throws {
        if !force, now().timeIntervalSince(lastAttempt) < configuration.minimumRefreshInterval, keys != nil { return }
        let task: Task<(KeySet, TimeInterval), any Error>
        if let inFlight {
            task = inFlight
        } else {
            lastAttempt = now()
            task = Task { [issuer, httpClient, configuration] in
                try await Self.fetch(issuer: issuer, httpClient: httpClient, configuration: configuration)
            }
            inFlight = task
        }
        defer { inFlight = nil }
        do {
            let (fetched, maxAge) = try await task.value
            keys = fetched
            fetchedAt = now()
            expiresAt = now().addingTimeInterval(maxAge)
        } catch {
            // Keep serving the last good set for a while; fail when there is none or it is too old.
            let tooStale = now().timeIntervalSince(expiresAt) > configuration.maximumStaleness
            if keys == nil || tooStale {
                if tooStale { keys = nil }
                throw (error as? TokenVerificationError) ?? TokenVerificationError(.keysUnavailable, "cannot fetch the issuer's keys")
            }
        }
    }

    private struct Metadata: Decodable {
        let issuer: String
        let jwksURI: String

        enum CodingKeys: String, CodingKey {
            case issuer
            case jwksURI = "jwks_uri"
        }
    }

    private static func fetch(
        issuer: String, httpClient: HTTPClient, configuration: TokenVerifier.Configuration
    ) async throws -> (KeySet, TimeInterval) {
        let (metadataBody, _) = try await get(issuer + "/.well-known/oauth-authorization-server", httpClient: httpClient, configuration: configuration)
        guard let metadata = try? JSONDecoder().decode(Metadata.self, from: metadataBody) else {
            throw TokenVerificationError(.keysUnavailable, "the issuer's metadata is not valid JSON with issuer and jwks_uri")
        }
        // RFC 8414 §3.3: the metadata must name the issuer it was fetched for.
        guard metadata.issuer == issuer else {
            throw TokenVerificationError(.keysUnavailable, "metadata names issuer \"\(metadata.issuer)\", expected \"\(issuer)\"")
        }
        let (jwksBody, cacheControl) = try await get(metadata.jwksURI, httpClient: httpClient, configuration: configuration)
        guard let jwks = try? JSONDecoder().decode(JWKSet.self, from: jwksBody) else {
            throw TokenVerificationError(.keysUnavailable, "the JWKS is not a valid JWK Set")
        }
        let maxAge = cacheControl.flatMap(Self.maxAge) ?? configuration.defaultMaxAge
        let bounded = min(max(maxAge, configuration.minimumRefreshInterval), configuration.maximumMaxAge)
        return (KeySet(jwks: jwks), bounded)
    }

    private static func get(
        _ url: String, httpClient: HTTPClient, configuration: TokenVerifier.Configuration
    ) async throws -> (Data, String?) {
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await httpClient.execute(request, timeout: .milliseconds(Int64(configuration.fetchTimeout * 1000)))
            guard response.status == .ok else {
                throw TokenVerificationError(.keysUnavailable, "GET \(url) answered \(response.status.code)")
            }
            let body = try await response.body.collect(upTo: 1 << 20)
            return (Data(body.readableBytesView), response.headers.first(name: "Cache-Control"))
        } catch let error as TokenVerificationError {
            throw error
        } catch {
            throw TokenVerificationError(.keysUnavailable, "GET \(url) failed: \(error)")
        }
    }

    /// The `max-age` directive of a `Cache-Control` value (RFC 9111 §5.2.2.1); `no-store`
    /// and `no-cache` count as 0.
    static func maxAge(_ cacheControl: String) -> TimeInterval? {
        for directive in cacheControl.lowercased().split(separator: ",") {
            let parts = directive.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.first == "no-store" || parts.first == "no-cache" { return 0 }
            if parts.count == 2, parts[0] == "max-age", let seconds = Int(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))), seconds >= 0 {
                return TimeInterval(seconds)
            }
        }
        return nil
    }
}
