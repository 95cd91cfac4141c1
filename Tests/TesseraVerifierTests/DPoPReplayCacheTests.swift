import Foundation
import Hummingbird
import Synchronization
import TesseraJOSE
import TesseraVerifier
import Testing

@Suite struct DPoPReplayCacheTests {
    @Test func remembersByKeyAndJtiUntilItsSecondHasPassed() {
        let cache = DPoPReplayCache(capacity: 10)
        #expect(cache.remember(thumbprint: "k1", jti: "a", until: 1_000, now: 700) == .new)
        #expect(cache.remember(thumbprint: "k1", jti: "a", until: 1_000, now: 701) == .replayed)
        #expect(cache.remember(thumbprint: "k2", jti: "a", until: 1_000, now: 701) == .new)
        // ("k1", "a.b") and ("k1.a", "b") are two proofs, not one.
        #expect(cache.remember(thumbprint: "k1", jti: "a.b", until: 1_000, now: 701) == .new)
        #expect(cache.remember(thumbprint: "k1.a", jti: "b", until: 1_000, now: 701) == .new)
        #expect(cache.count == 4)
        #expect(cache.remember(thumbprint: "k1", jti: "a", until: 1_300, now: 1_000) == .replayed)
        #expect(cache.remember(thumbprint: "k1", jti: "a", until: 1_301, now: 1_001) == .new)
        #expect(cache.count == 1)
    }

    @Test func whenFullItRefusesAndForgetsNothing() {
        let cache = DPoPReplayCache(capacity: 2)
        #expect(cache.remember(thumbprint: "k", jti: "1", until: 100, now: 0) == .new)
        #expect(cache.remember(thumbprint: "k", jti: "2", until: 200, now: 0) == .new)
        #expect(cache.remember(thumbprint: "k", jti: "3", until: 200, now: 0) == .full)
        // Full, and both remembered proofs are still refused as replays.
        #expect(cache.remember(thumbprint: "k", jti: "1", until: 100, now: 50) == .replayed)
        #expect(cache.remember(thumbprint: "k", jti: "2", until: 200, now: 50) == .replayed)
        // The first ages out: room for one.
        #expect(cache.remember(thumbprint: "k", jti: "3", until: 300, now: 101) == .new)
        #expect(cache.remember(thumbprint: "k", jti: "4", until: 300, now: 101) == .full)
        #expect(cache.count == 2)
        #expect(DPoPReplayCache(capacity: 0).remember(thumbprint: "k", jti: "1", until: 1, now: 0) == .full)
    }

    @Test func concurrentCallersAgreeOnOneWinnerPerJti() async {
        let cache = DPoPReplayCache(capacity: 100_000)
        let winners = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var won = 0
                    for jti in 0..<1_000 where cache.remember(thumbprint: "k", jti: "\(jti)", until: 100, now: 0) == .new { won += 1 }
                    return won
                }
            }
            return await group.reduce(0, +)
        }
        #expect(winners == 1_000)
        #expect(cache.count == 1_000)
    }
}

/// A stand-in introspection endpoint answering what the test sets for each token.
final class FakeIntrospection: Sendable {
    let port: Int
    let answers = Mutex<[String: String]>([:])

    init() throws { port = try freePort() }

    var endpoint: String { "http://127.0.0.1:\(port)/oauth2/introspect" }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/oauth2/introspect") { [self] request, _ -> Response in
            let form = String(buffer: try await request.body.collect(upTo: 1 << 16))
            let token = form.split(separator: "&").first { $0.hasPrefix("token=") }.map { String($0.dropFirst(6)).removingPercentEncoding ?? "" } ?? ""
            let body = answers.withLock { $0[token] } ?? #"{"active":false}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
    }

    /// An active answer with the token's claims and `cnf` as Tessera's introspection
    /// gives it (docs/binding.md, "Introspection").
    static func active(cnf: String?, now: Int64, tokenType: String = "DPoP") -> String {
        #"{"active":true,"iss":"\#(BindingFixture.issuer)","sub":"s-1","aud":"https://api.example","exp":\#(now + 300),"iat":\#(now),"nbf":\#(now),"jti":"j-1","client_id":"tsc_client","scope":"orders:read","tenant":"t-1","roles":[],"token_type":"\#(tokenType)""#
            + (cnf.map { #","cnf":\#($0)"# } ?? "") + "}"
    }
}
