import Foundation
import Synchronization
import TesseraCore
import TesseraJOSE
import TesseraTestSupport
import Testing

/// Federated credentials and token exchange in the core (docs/federation.md): the
/// pattern and claim rules, the issuer-key cache, and each safety rule on its own.
/// The interop suite proves the same from the outside with real token shapes.
@Suite struct FederationTests {
    static let issuer = "https://issuer.example"
    static let outside = "https://cluster.example"

    // MARK: Patterns and claims

    @Test(arguments: [
        ("repo:acme/deploy:ref:refs/heads/main", "repo:acme/deploy:ref:refs/heads/main", true),
        ("repo:acme/deploy:ref:refs/heads/main", "repo:acme/deploy:*", true),
        ("repo:acme/deploy:ref:refs/heads/main", "repo:acme/*:ref:refs/heads/main", true),
        ("repo:acme/deploy", "repo:acme/deploy:*", false),
        ("repo:acme/deployer", "repo:acme/deploy", false),
        ("", "*", true),
        ("", "", true),
        ("a", "", false),
        ("abcabd", "*abd", true),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*c", false),
        ("spiffe://example.org/ns/a/sa/b", "spiffe://example.org/ns/*/sa/b", true),
        ("x*y", "x*y", true),
        ("prod", "Prod", false),
    ])
    func patternsMatchTheWholeValue(value: String, pattern: String, matches: Bool) {
        #expect(Pattern.matches(value, pattern) == matches)
    }

    @Test func claimsAreReadThroughDottedPathsWhoseMembersMayHoldDots() throws {
        let payload = #"""
            {"kubernetes.io": {"namespace": "shop", "serviceaccount": {"name": "orders", "uid": "u"}},
             "run_id": 42, "fork": false, "list": ["a"], "ratio": 1.5, "a.b": "flat", "a": {"b": "nested"}}
            """#
        let claims = try #require(try JSONValue.parse(Array(payload.utf8)).object)
        #expect(claims.claimText("kubernetes.io.namespace") == "shop")
        #expect(claims.claimText("kubernetes.io.serviceaccount.name") == "orders")
        #expect(claims.claimText("kubernetes.io.serviceaccount") == nil)
        #expect(claims.claimText("run_id") == "42")
        #expect(claims.claimText("fork") == "false")
        #expect(claims.claimText("list") == nil)
        #expect(claims.claimText("ratio") == nil)
        #expect(claims.claimText("a.b") == "flat")
        #expect(claims.claimText("kubernetes.io.pod.name") == nil)
    }

    // MARK: The issuer's keys

    /// An outside issuer served from memory: discovery, JWKS, a fetch log.
    final class StandIn: Sendable {
        struct State {
            var keys: [SigningKey] = []
            var maxAge: Int? = 300
            var discoveryIssuer: String
            var jwksURI: String
            var discovery = true
            var down = false
            var fetched: [String] = []
        }
        let state: Mutex<State>

        init(issuer: String = FederationTests.outside) {
            state = Mutex(State(discoveryIssuer: issuer, jwksURI: issuer + "/keys"))
        }

        var fetched: [String] { state.withLock { $0.fetched } }

        func rotate() throws -> SigningKey {
            let key = try SigningKey.generate(.es256)
            state.withLock { $0.keys = [key] }
            return key
        }

        func add() throws -> SigningKey {
            let key = try SigningKey.generate(.es256)
            state.withLock { $0.keys.append(key) }
            return key
        }

        var fetch: FederatedKeys.Fetch {
            { url in
                try self.state.withLock { state in
                    state.fetched.append(url)
                    if state.down { throw URLError(.cannotConnectToHost) }
                    if url.hasSuffix("/.well-known/openid-configuration") {
                        guard state.discovery else { return FetchedDocument(status: 404, body: [], maxAge: nil) }
                        let body = #"{"issuer":"\#(state.discoveryIssuer)","jwks_uri":"\#(state.jwksURI)"}"#
                        return FetchedDocument(status: 200, body: Array(body.utf8), maxAge: 3600)
                    }
                    let keys = try state.keys.map { key in String(decoding: try JSONEncoder().encode(key.publicJWK), as: UTF8.self) }
                    return FetchedDocument(status: 200, body: Array(#"{"keys":[\#(keys.joined(separator: ","))]}"#.utf8), maxAge: state.maxAge)
                }
            }
        }
    }

    static func credential(jwksURI: String? = nil) -> FederatedCredential {
        FederatedCredential(
            id: UUID(), tenantID: UUID(), accountID: UUID(), name: "c", issuer: outside, subject: "x", jwksURI: jwksURI, createdAt: Date()
        )
    }

    @Test func keysComeThroughDiscoveryAndAreCachedForTheirMaxAge() async throws {
        let standIn = StandIn(), clock = TestClock()
        let key = try standIn.rotate()
        let keys = FederatedKeys(policy: FederationURLPolicy(), now: { clock.now }, fetch: standIn.fetch)
        let found = try await keys.keys(for: Self.credential(), kid: key.keyID)
        #expect(found.map(\.keyID) == [key.keyID])
        #expect(standIn.fetched == [Self.outside + "/.well-known/openid-configuration", Self.outside + "/keys"])
        clock.advance(299)
        _ = try await keys.keys(for: Self.credential(), kid: key.keyID)
        #expect(standIn.fetched.count == 2)
        clock.advance(2)
        _ = try await keys.keys(for: Self.credential(), kid: key.keyID)
        #expect(standIn.fetched.count == 4)
    }

    @Test func anUnknownKidFetchesAgainAtMostOnceInTenSeconds() async throws {
        let standIn = StandIn(), clock = TestClock()
        let old = try standIn.rotate()
        let keys = FederatedKeys(policy: FederationURLPolicy(), now: { clock.now }, fetch: standIn.fetch)
        _ = try await keys.keys(for: Self.credential(), kid: old.keyID)
        let new = try standIn.add()
        clock.advance(5)
        // Within 10 s of the last fetch an unknown kid fetches nothing.
        #expect(try await keys.keys(for: Self.credential(), kid: new.keyID).map(\.keyID) == [old.keyID])
        #expect(try await keys.keys(for: Self.credential(), kid: "made-up").map(\.keyID) == [old.keyID])
        #expect(standIn.fetched.count == 2)
        clock.advance(5)
        #expect(Set(try await keys.keys(for: Self.credential(), kid: new.keyID).map(\.keyID)) == [old.keyID, new.keyID])
        #expect(standIn.fetched.count == 4)
        // A flood of unknown kids right after costs nothing.
        for _ in 0..<20 { _ = try await keys.keys(for: Self.credential(), kid: UUID().uuidString) }
        #expect(standIn.fetched.count == 4)
    }

    @Test func maxAgeIsClampedAndFetchedKeysOutliveAnOutage() async throws {
        let standIn = StandIn(), clock = TestClock()
        let key = try standIn.rotate()
        standIn.state.withLock { $0.maxAge = 0 }
        let keys = FederatedKeys(policy: FederationURLPolicy(), now: { clock.now }, fetch: standIn.fetch)
        _ = try await keys.keys(for: Self.credential(), kid: key.keyID)
        clock.advance(59)
        _ = try await keys.keys(for: Self.credential(), kid: key.keyID)
        #expect(standIn.fetched.count == 2, "max-age 0 is kept for the 60 s minimum")
        standIn.state.withLock { $0.down = true }
        clock.advance(2)
        #expect(try await keys.keys(for: Self.credential(), kid: key.keyID).map(\.keyID) == [key.keyID])
    }

    @Test func discoveryMustNameTheIssuerAndAnHTTPJWKSURIIsRefused() async throws {
        let standIn = StandIn()
        _ = try standIn.rotate()
        standIn.state.withLock { $0.discoveryIssuer = "https://evil.example" }
        let keys = FederatedKeys(policy: FederationURLPolicy(), fetch: standIn.fetch)
        let refused = await #expect(throws: FederatedKeys.Unavailable.self) { try await keys.keys(for: Self.credential(), kid: nil) }
        #expect(refused?.detail.contains("issuer is not") == true)
        // What a tenant's administrator reads names no URL and no status.
        #expect(refused?.description == "the issuer's keys could not be fetched or read")

        let plain = StandIn()
        _ = try plain.rotate()
        plain.state.withLock { $0.jwksURI = "http://cluster.example/keys" }
        let other = FederatedKeys(policy: FederationURLPolicy(), fetch: plain.fetch)
        let insecure = await #expect(throws: FederatedKeys.Unavailable.self) { try await other.keys(for: Self.credential(), kid: nil) }
        #expect(insecure?.detail.contains("https") == true)
        #expect(plain.fetched == [Self.outside + "/.well-known/openid-configuration"])
    }

    @Test func withoutDiscoveryTheWellKnownJWKSIsUsed() async throws {
        let standIn = StandIn()
        let key = try standIn.rotate()
        standIn.state.withLock { $0.discovery = false }
        let keys = FederatedKeys(policy: FederationURLPolicy(), fetch: standIn.fetch)
        #expect(try await keys.keys(for: Self.credential(), kid: key.keyID).map(\.keyID) == [key.keyID])
        #expect(standIn.fetched.last == Self.outside + "/.well-known/jwks.json")
    }

    @Test func urlPolicyAllowsHTTPSAndLoopbackHTTPOnlyWhenAllowed() {
        let strict = FederationURLPolicy(), loose = FederationURLPolicy(allowsLoopbackHTTP: true)
        #expect(strict.problem(with: "https://token.actions.githubusercontent.com") == nil)
        #expect(strict.problem(with: "http://127.0.0.1:8080") != nil)
        #expect(loose.problem(with: "http://127.0.0.1:8080") == nil)
        #expect(loose.problem(with: "http://localhost:1") == nil)
        #expect(loose.problem(with: "http://10.0.0.1") != nil)
        #expect(strict.problem(with: "https://a.example/?x=1") != nil)
        #expect(strict.problem(with: "https://user:pw@a.example") != nil)
        #expect(strict.problem(with: "ftp://a.example") != nil)
        #expect(strict.problem(with: "token.actions.githubusercontent.com") != nil)
        for address in [
            "https://10.1.2.3", "https://172.20.0.1", "https://192.168.1.1", "https://169.254.169.254", "https://100.64.0.1", "https://0.0.0.0",
            "https://[fd00::1]", "https://[fe80::1]", "https://[::ffff:10.0.0.1]", "https://localhost", "https://127.0.0.1", "https://[::1]",
        ] {
            #expect(strict.problem(with: address) != nil, "\(address)")
        }
        #expect(strict.problem(with: "https://8.8.8.8/keys") == nil)
        #expect(strict.problem(with: "https://172.32.0.1") == nil)
        #expect(loose.problem(with: "https://localhost:8443") == nil)
    }

    @Test func aSourceAnsweringWithNoUsableKeyHasWithdrawnThem() async throws {
        let standIn = StandIn(), clock = TestClock()
        let key = try standIn.rotate()
        let keys = FederatedKeys(policy: FederationURLPolicy(), now: { clock.now }, fetch: standIn.fetch)
        _ = try await keys.keys(for: Self.credential(), kid: key.keyID)
        standIn.state.withLock { $0.keys = [] }
        clock.advance(301)
        await #expect(throws: FederatedKeys.Unavailable.self) { try await keys.keys(for: Self.credential(), kid: key.keyID) }
        // Unreachable after that, nothing old comes back.
        standIn.state.withLock { $0.down = true }
        clock.advance(11)
        await #expect(throws: FederatedKeys.Unavailable.self) { try await keys.keys(for: Self.credential(), kid: key.keyID) }
    }

    @Test func keysOfADownSourceServeADayPastTheirExpiryAndFailuresAreNotRetriedAtOnce() async throws {
        let standIn = StandIn(), clock = TestClock()
        let key = try standIn.rotate()
        let keys = FederatedKeys(policy: FederationURLPolicy(), now: { clock.now }, fetch: standIn.fetch)
        _ = try await keys.keys(for: Self.credential(), kid: key.keyID)
        standIn.state.withLock { $0.down = true }
        clock.advance(300 + 86_000)
        #expect(try await keys.keys(for: Self.credential(), kid: key.keyID).map(\.keyID) == [key.keyID])
        let attempts = standIn.fetched.count
        for _ in 0..<10 { _ = try? await keys.keys(for: Self.credential(), kid: UUID().uuidString) }
        #expect(standIn.fetched.count == attempts, "a failed source is tried again only after 10 s")
        clock.advance(500)
        await #expect(throws: FederatedKeys.Unavailable.self) { try await keys.keys(for: Self.credential(), kid: key.keyID) }
    }

    @Test func inlineKeysAreStoredPublicAndNormalized() throws {
        let key = try SigningKey.generate(.es256)
        var withPrivate = try #require(try JSONValue.parse(Array(try JSONEncoder().encode(key.publicJWK))).object)
        withPrivate["d"] = .string("AAAA")
        func jwks(_ members: [String]) -> [UInt8] { Array(#"{"keys":[\#(members.joined(separator: ","))]}"#.utf8) }
        let publicText = String(decoding: try JSONEncoder().encode(key.publicJWK), as: UTF8.self)
        let normalized = try FederatedKeys.normalizedInlineJWKS(jwks([publicText]))
        #expect(!normalized.contains("\"d\""))
        #expect(normalized.contains("\"alg\":\"ES256\""))
        var output = JSONOutput()
        output.value(.object(withPrivate))
        let privateText = String(decoding: output.bytes, as: UTF8.self)
        for bad in [jwks([privateText]), jwks([publicText, "1"]), jwks([#"{"kty":"oct","k":"AAAA"}"#]), jwks([]), Array("[]".utf8)] {
            #expect(throws: JOSEError.self) { try FederatedKeys.normalizedInlineJWKS(bad) }
        }
    }

    @Test func anIssuerWithATrailingSlashIsNotDoubled() async throws {
        let standIn = StandIn(issuer: Self.outside + "/")
        let key = try standIn.rotate()
        let keys = FederatedKeys(policy: FederationURLPolicy(), fetch: standIn.fetch)
        var credential = Self.credential()
        credential.issuer = Self.outside + "/"
        #expect(try await keys.keys(for: credential, kid: key.keyID).map(\.keyID) == [key.keyID])
        #expect(standIn.fetched.first == Self.outside + "/.well-known/openid-configuration")
    }

    @Test func aPathThatLeadsTwoWaysMatchesNothing() throws {
        let payload = #"{"kubernetes": {"io": {"namespace": "a"}}, "kubernetes.io": {"namespace": "b"}}"#
        let claims = try #require(try JSONValue.parse(Array(payload.utf8)).object)
        #expect(claims.claimText("kubernetes.io.namespace") == nil)
    }
}
