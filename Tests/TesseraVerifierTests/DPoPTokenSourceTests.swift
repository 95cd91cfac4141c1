import AsyncHTTPClient
import Foundation
import Hummingbird
import Synchronization
import TesseraJOSE
import TesseraVerifier
import Testing

/// A token endpoint that checks DPoP proofs as docs/binding.md says the issuer does,
/// optionally asks for nonces, and issues real access tokens bound to the proof's key.
final class FakeDPoPTokenEndpoint: Sendable {
    struct Seen: Sendable {
        let proof: DPoPProof?
        /// Why the proof was refused, if it was.
        let refusal: String?
    }

    struct State {
        var seen: [Seen] = []
        /// The nonce proofs must carry; `nil`: none asked for.
        var nonce: String?
        /// Every `use_dpop_nonce` answer hands out a new nonce (a server that never settles).
        var neverSatisfied = false
        var tokenType = "DPoP"
        /// A request without a proof is refused; otherwise answered as one with a proof
        /// (a server that binds what it should not).
        var requireProof = true
    }

    static let issuer = "https://issuer.example"
    static let nonceHeader = HTTPFields.Element.Name("DPoP-Nonce")!
    static let dpopHeader = HTTPFields.Element.Name("DPoP")!
    let port: Int
    let issuerKey: SigningKey
    let state = Mutex(State())

    init() throws {
        port = try freePort()
        issuerKey = try SigningKey.generate(.es256)
    }

    var url: String { "http://127.0.0.1:\(port)/oauth2/token" }
    var seen: [Seen] { state.withLock { $0.seen } }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/oauth2/token") { [self] request, _ -> Response in
            let values = request.headers[values: Self.dpopHeader]
            var proof: DPoPProof?
            var refusal: String?
            let requireProof = state.withLock { $0.requireProof }
            do {
                guard values.count == 1 || (values.isEmpty && !requireProof) else { throw DPoPProof.Invalid("\(values.count) DPoP headers") }
                guard let value = values.first else { throw CancellationError() }
                let parsed = try DPoPProof(value)
                proof = parsed
                try parsed.check(method: "POST", url: url, now: Int64(Date().timeIntervalSince1970))
                if parsed.ath != nil { throw DPoPProof.Invalid("a token request's proof has no ath") }
            } catch is CancellationError {
                // No proof, and none required.
            } catch {
                refusal = "\(error)"
            }
            let (nonce, tokenType) = state.withLock { state in
                state.seen.append(Seen(proof: proof, refusal: refusal))
                if refusal == nil, let wanted = state.nonce, proof?.nonce != wanted || state.neverSatisfied {
                    if state.neverSatisfied { state.nonce = "n-\(state.seen.count)" }
                    return (state.nonce, "use_dpop_nonce")
                }
                return (state.nonce, state.tokenType)
            }
            var headers: HTTPFields = [.contentType: "application/json"]
            if let nonce { headers[Self.nonceHeader] = nonce }
            if let refusal {
                let body = #"{"error":"invalid_dpop_proof","error_description":"\#(refusal)"}"#
                return Response(status: .badRequest, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
            }
            if tokenType == "use_dpop_nonce" {
                let body = #"{"error":"use_dpop_nonce","error_description":"use the nonce in the DPoP-Nonce header"}"#
                return Response(status: .badRequest, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
            }
            let cnf = tokenType == "DPoP" ? TesseraJOSE.Confirmation(jkt: proof?.thumbprint) : nil
            let token = try accessToken(issuerKey, issuer: Self.issuer, cnf: cnf)
            let body = #"{"access_token":"\#(token)","token_type":"\#(tokenType)","expires_in":300}"#
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
    }

    func run(_ body: () async throws -> Void) async throws {
        try await serving(application()) {
            try await waitUntilServing(port: port)
            try await body()
        }
    }
}

@Suite struct DPoPTokenSourceTests {
    @Test func everyTokenRequestCarriesAFreshProofForPOSTAndTheTokenURL() async throws {
        let endpoint = try FakeDPoPTokenEndpoint()
        let key = try SigningKey.generate(.es256)
        let source = TokenSource(tokenURL: endpoint.url + "?tenant=acme", clientID: "c", credentials: .secret("s"), dpopKey: key)
        try await endpoint.run {
            let first = try await source.currentToken()
            #expect(first.tokenType == "DPoP")
            await source.invalidate()
            _ = try await source.token()
        }
        let seen = endpoint.seen
        #expect(seen.count == 2)
        #expect(seen.allSatisfy { $0.refusal == nil })
        let proofs = seen.compactMap(\.proof)
        #expect(proofs.count == 2)
        #expect(proofs.allSatisfy { $0.htm == "POST" && $0.htu == endpoint.url && $0.ath == nil && $0.nonce == nil })
        #expect(proofs.allSatisfy { $0.thumbprint == (try? key.publicJWK.thumbprint()) })
        #expect(proofs[0].jti != proofs[1].jti)
    }

    @Test func useDPoPNonceIsRetriedOnceWithTheNonceWhichIsThenRemembered() async throws {
        let endpoint = try FakeDPoPTokenEndpoint()
        endpoint.state.withLock { $0.nonce = "n-1" }
        let source = TokenSource(tokenURL: endpoint.url, clientID: "c", credentials: .secret("s"), dpopKey: try SigningKey.generate(.eddsa))
        try await endpoint.run {
            _ = try await source.token()
            #expect(endpoint.seen.map { $0.proof?.nonce } == [nil, "n-1"])
            // The nonce is sent from then on: no second round trip.
            await source.invalidate()
            _ = try await source.token()
            #expect(endpoint.seen.map { $0.proof?.nonce } == [nil, "n-1", "n-1"])
            // The server moves on: one use_dpop_nonce answer, one retry with the new nonce.
            endpoint.state.withLock { $0.nonce = "n-2" }
            await source.invalidate()
            _ = try await source.token()
            #expect(endpoint.seen.map { $0.proof?.nonce } == [nil, "n-1", "n-1", "n-1", "n-2"])
        }
        #expect(endpoint.seen.allSatisfy { $0.refusal == nil })
    }

    @Test func aSecondUseDPoPNonceIsNotRetried() async throws {
        let endpoint = try FakeDPoPTokenEndpoint()
        endpoint.state.withLock {
            $0.nonce = "n-0"
            $0.neverSatisfied = true
        }
        let source = TokenSource(tokenURL: endpoint.url, clientID: "c", credentials: .secret("s"), dpopKey: try SigningKey.generate(.es256))
        try await endpoint.run {
            let failure = await #expect(throws: TokenSource.Failure.self) { try await source.token() }
            #expect(failure?.status == 400)
            #expect(failure?.error == "use_dpop_nonce")
            #expect(failure?.description == "the token endpoint answered 400: use the nonce in the DPoP-Nonce header")
        }
        #expect(endpoint.seen.map { $0.proof?.nonce } == [nil, "n-1"])
    }

    /// The whole way: a DPoP-bound token from the endpoint, presented by `authorize`
    /// to a verifier, which accepts it once and refuses the same proof again.
    @Test func authorizeSendsTheDPoPSchemeAndAProofTheVerifierAccepts() async throws {
        let endpoint = try FakeDPoPTokenEndpoint()
        let key = try SigningKey.generate(.rs256)
        let source = TokenSource(tokenURL: endpoint.url, clientID: "c", credentials: .secret("s"), dpopKey: key)
        let verifier = TokenVerifier(
            issuer: FakeDPoPTokenEndpoint.issuer, audience: "https://api.example", keys: JWKSet(keys: [endpoint.issuerKey.publicJWK]))
        try await endpoint.run {
            var request = HTTPClientRequest(url: "https://api.example/orders?page=2#top")
            request.method = .POST
            request.headers.add(name: "DPoP", value: "a stale proof")
            try await source.authorize(&request)
            let token = try await source.token()
            #expect(request.headers["Authorization"] == ["DPoP " + token])
            let proofs = request.headers["DPoP"]
            #expect(proofs.count == 1)
            let proof = try DPoPProof(try #require(proofs.first))
            #expect(proof.htm == "POST")
            #expect(proof.htu == "https://api.example/orders")
            #expect(proof.ath == DPoPProof.accessTokenHash(token))
            #expect(proof.thumbprint == (try key.publicJWK.thumbprint()))

            let presentation = TokenPresentation.dpop(proofs: proofs, method: "POST", url: request.url)
            let verified = try await verifier.verify(token, presentation: presentation)
            #expect(verified.cnf == TesseraJOSE.Confirmation(jkt: try key.publicJWK.thumbprint()))
            let replay = await #expect(throws: TokenVerificationError.self) { try await verifier.verify(token, presentation: presentation) }
            #expect(replay?.code == .replayedProof)
            // Each call signs a new proof.
            try await source.authorize(&request)
            #expect(try DPoPProof(try #require(request.headers["DPoP"].first)).jti != proof.jti)
            _ = try await verifier.verify(token, presentation: .dpop(proofs: request.headers["DPoP"], method: "POST", url: request.url))
        }
    }

    @Test func aBearerAnswerToADPoPRequestIsSentAsBearer() async throws {
        let endpoint = try FakeDPoPTokenEndpoint()
        endpoint.state.withLock { $0.tokenType = "Bearer" }
        let source = TokenSource(tokenURL: endpoint.url, clientID: "c", credentials: .secret("s"), dpopKey: try SigningKey.generate(.es256))
        try await endpoint.run {
            var request = HTTPClientRequest(url: "https://api.example/orders")
            try await source.authorize(&request)
            #expect(try await source.currentToken().tokenType == "Bearer")
            #expect(request.headers["Authorization"] == ["Bearer " + (try await source.token())])
            #expect(request.headers["DPoP"] == [])
        }
    }

    @Test func withoutAKeyNoProofIsSentAndADPoPAnswerIsRefused() async throws {
        let endpoint = try FakeDPoPTokenEndpoint()
        let source = TokenSource(tokenURL: endpoint.url, clientID: "c", credentials: .secret("s"), maximumAttempts: 1)
        try await endpoint.run {
            let failure = await #expect(throws: TokenSource.Failure.self) { try await source.token() }
            #expect(failure?.status == 400)
            #expect(failure?.error == "invalid_dpop_proof")
            // A server that binds a token nobody asked to bind: it cannot be presented.
            endpoint.state.withLock { $0.requireProof = false }
            let bound = await #expect(throws: TokenSource.Failure.self) { try await source.token() }
            #expect(bound?.status == 200)
            #expect(bound?.description == "the token endpoint answered a DPoP token to a request without a proof")
        }
        #expect(endpoint.seen.map(\.refusal) == ["0 DPoP headers", nil])
        #expect(endpoint.seen.map { $0.proof == nil } == [true, true])
    }
}
