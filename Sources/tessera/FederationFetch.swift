import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import TesseraCore

/// How `serve` fetches outside issuers' discovery documents and keys
/// (docs/federation.md): GET with a 5 s deadline, no redirects followed (a
/// redirect could lead off the URL the credential names), at most 256 KiB read.
enum FederationFetch {
    /// One client for the life of the process, never shut down.
    private static let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(5)))
    )

    /// No fetch outlives this, from connecting to the last byte of the body: the
    /// client's own deadline ends with the response head, and its read timeout only
    /// bounds the time between two bytes, so a source that trickles would hold a fetch
    /// (and every token request waiting on it) for as long as it liked.
    static let deadline: Duration = .seconds(5)

    struct TimedOut: Error {}

    static let fetch: FederatedKeys.Fetch = { url in
        try await withDeadline(deadline) {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json, application/jwk-set+json")
            request.headers.add(name: "User-Agent", value: "tessera")
            let response = try await client.execute(request, timeout: .seconds(5))
            let body = try await response.body.collect(upTo: FederatedKeys.maximumDocumentSize)
            return FetchedDocument(
                status: Int(response.status.code), body: Array(buffer: body), maxAge: maxAge(response.headers["Cache-Control"].joined(separator: ","))
            )
        }
    }

    /// `body`'s answer, or ``TimedOut`` once `limit` has passed; then `body` is
    /// cancelled and not waited for.
    static func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let work = Task { try await body() }
        let answered = Mutex(false)
        let claim: @Sendable () -> Bool = {
            answered.withLock { done in
                defer { done = true }
                return !done
            }
        }
        return try await withCheckedThrowingContinuation { continuation in
            Task {
                let result = await work.result
                if claim() { continuation.resume(with: result) }
            }
            Task {
                try? await Task.sleep(for: limit)
                if claim() {
                    work.cancel()
                    continuation.resume(throwing: TimedOut())
                }
            }
        }
    }

    /// `max-age` of a `Cache-Control` value; `no-store` and `no-cache` count as 0.
    static func maxAge(_ value: String) -> Int? {
        var age: Int?
        for directive in value.split(separator: ",") {
            let text = directive.trimmingCharacters(in: .whitespaces).lowercased()
            if text == "no-store" || text == "no-cache" { return 0 }
            if text.hasPrefix("max-age="), let seconds = Int(text.dropFirst("max-age=".count).prefix(10)) { age = max(0, seconds) }
        }
        return age
    }
}
