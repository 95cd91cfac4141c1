import Foundation
import Hummingbird
import Synchronization
import TesseraJOSE
import TesseraVerifier
import Testing

/// A token, a DPoP key and a verifier with a fixed key set and a clock moved by hand,
/// for the binding rules of docs/binding.md ("Resource servers: the verifier libraries").
struct BindingFixture {
    static let issuer = "https://issuer.example"
    static let url = "https://api.example/orders"
    let issuerKey: SigningKey
    let clock = ManualClock()
    let verifier: TokenVerifier

    init(configuration: TokenVerifier.Configuration = .init(), mode: TokenVerifier.Mode = .offline) throws {
        issuerKey = try SigningKey.generate(.es256)
        let clock = clock
        verifier = TokenVerifier(
            issuer: Self.issuer, audience: "https://api.example", keys: JWKSet(keys: [issuerKey.publicJWK]), mode: mode,
            configuration: configuration, now: { clock.now })
    }

    var now: Int64 { Int64(clock.now.timeIntervalSince1970) }

    func token(cnf: TesseraJOSE.Confirmation?, scope: String = "orders:read", lifetime: Int64 = 300) throws -> String {
        try accessToken(issuerKey, issuer: Self.issuer, scope: scope, iat: clock.now, lifetime: lifetime, cnf: cnf)
    }

    func proof(
        _ key: SigningKey, for token: String?, method: String = "GET", url: String = url, iat: Int64? = nil, jti: String = UUID().uuidString
    ) throws -> String {
        try DPoPProof.sign(with: key, method: method, url: url, iat: iat ?? now, jti: jti, accessToken: token)
    }

    func refusal(_ token: String, _ presentation: TokenPresentation) async -> TokenVerificationError? {
        await #expect(throws: TokenVerificationError.self) { try await verifier.verify(token, presentation: presentation) }
    }
}

@Suite struct TokenBindingTests {
    @Test(arguments: JWSAlgorithm.allCases)
    func aDPoPBoundTokenPassesWithItsProofAndShowsItsCnf(_ algorithm: JWSAlgorithm) async throws {
        let fixture = try BindingFixture()
        let key = try SigningKey.generate(algorithm)
        let jkt = try key.publicJWK.thumbprint()
        let token = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: jkt))
        // The request's query is not part of htu (RFC 9449 §4.3).
        let proof = try fixture.proof(key, for: token)
        let verified = try await fixture.verifier.verify(
            token, presentation: .dpop(proof: proof, method: "GET", url: BindingFixture.url + "?page=2"))
        #expect(verified.cnf == TesseraJOSE.Confirmation(jkt: jkt))
        #expect(verified.clientID == "tsc_client")
        #expect(verified.scopes == ["orders:read"])
    }

    @Test func theDPoPSchemeNeedsExactlyOneProof() async throws {
        let fixture = try BindingFixture()
        let key = try SigningKey.generate(.es256)
        let token = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: try key.publicJWK.thumbprint()))
        let none = await fixture.refusal(token, .dpop(proofs: [], method: "GET", url: BindingFixture.url))
        #expect(none?.code == .invalidProof)
        #expect(none?.reason == "the DPoP scheme needs a DPoP proof header")
        let two = await fixture.refusal(
            token, .dpop(proofs: [try fixture.proof(key, for: token), try fixture.proof(key, for: token)], method: "GET", url: BindingFixture.url))
        #expect(two?.code == .invalidProof)
        #expect(two?.reason == "the request carries more than one DPoP proof")
    }

    /// Each proof is wrong in one way only; each is `invalidProof` with DPoPProof's reason.
    @Test func aProofThatDoesNotFitTheRequestIsInvalid() async throws {
        let fixture = try BindingFixture()
        let key = try SigningKey.generate(.es256)
        let token = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: try key.publicJWK.thumbprint()))
        let good = try fixture.proof(key, for: token)
        let parts = good.split(separator: ".")
        let cases: [(String, String)] = [
            (try fixture.proof(key, for: token, method: "POST"), "the DPoP proof is for another method"),
            (try fixture.proof(key, for: token, url: "https://api.example/invoices"), "the DPoP proof is for another URL"),
            (try fixture.proof(key, for: token, url: "https://evil.example/orders"), "the DPoP proof is for another URL"),
            (try fixture.proof(key, for: token, iat: fixture.now - 301), "the DPoP proof is too old"),
            (try fixture.proof(key, for: token, iat: fixture.now + 61), "the DPoP proof is issued in the future"),
            (try fixture.proof(key, for: nil), "the DPoP proof's ath does not match the access token"),
            (try fixture.proof(key, for: token + "x"), "the DPoP proof's ath does not match the access token"),
            (
                "\(parts[0]).\(parts[1]).\(Base64URL.encode([UInt8](repeating: 7, count: 64)))",
                "the DPoP proof does not verify with its jwk: signature does not verify"
            ),
            ("not-a-jws", "the DPoP proof is not a compact JWS"),
        ]
        for (proof, reason) in cases {
            let error = await fixture.refusal(token, .dpop(proof: proof, method: "GET", url: BindingFixture.url))
            #expect(error?.code == .invalidProof, "\(reason)")
            #expect(error?.reason == reason)
        }
        // At the window's edges it still passes: 300 s old, 60 s ahead.
        for iat in [fixture.now - 300, fixture.now + 60] {
            _ = try await fixture.verifier.verify(
                token, presentation: .dpop(proof: try fixture.proof(key, for: token, iat: iat), method: "GET", url: BindingFixture.url))
        }
    }

    @Test func aProofSignedByAnotherKeyIsABindingMismatch() async throws {
        let fixture = try BindingFixture()
        let key = try SigningKey.generate(.es256), thief = try SigningKey.generate(.es256)
        let token = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: try key.publicJWK.thumbprint()))
        let error = await fixture.refusal(token, .dpop(proof: try fixture.proof(thief, for: token), method: "GET", url: BindingFixture.url))
        #expect(error?.code == .bindingMismatch)
        #expect(error?.reason == "the DPoP proof is signed by another key than the token's cnf.jkt")
    }

    @Test func aDPoPBoundTokenPresentedAsBearerIsRefused() async throws {
        let fixture = try BindingFixture()
        let key = try SigningKey.generate(.es256)
        let token = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: try key.publicJWK.thumbprint()))
        let asBearer = await fixture.refusal(token, .bearer())
        #expect(asBearer?.code == .wrongScheme)
        #expect(asBearer?.reason == "the token is DPoP-bound (cnf.jkt) and was presented as Bearer")
        // The plain API is for bearer tokens: a bound token does not pass it.
        let plain = await #expect(throws: TokenVerificationError.self) { try await fixture.verifier.verify(token) }
        #expect(plain?.code == .wrongScheme)
    }

    @Test func anUnboundTokenPresentedWithTheDPoPSchemeIsRefused() async throws {
        let fixture = try BindingFixture()
        let key = try SigningKey.generate(.es256)
        let token = try fixture.token(cnf: nil)
        let error = await fixture.refusal(token, .dpop(proof: try fixture.proof(key, for: token), method: "GET", url: BindingFixture.url))
        #expect(error?.code == .wrongScheme)
        #expect(error?.reason == "the token is not DPoP-bound and was presented with the DPoP scheme")
        // As Bearer it passes, with or without a certificate beside it, and has no cnf.
        #expect(try await fixture.verifier.verify(token).cnf == nil)
        #expect(try await fixture.verifier.verify(token, presentation: .bearer(clientCertificate: [1, 2, 3])).cnf == nil)
    }

    @Test func aCertificateBoundTokenNeedsThatCertificate() async throws {
        let fixture = try BindingFixture()
        let certificate: [UInt8] = Array("a DER certificate, as the TLS terminator hands it over".utf8)
        let x5t = TesseraJOSE.Confirmation.certificateThumbprint(der: certificate)
        let token = try fixture.token(cnf: TesseraJOSE.Confirmation(x5tS256: x5t))
        let without = await fixture.refusal(token, .bearer())
        #expect(without?.code == .bindingMismatch)
        #expect(without?.reason == "the token is certificate-bound (cnf.x5t#S256) and no client certificate came with it")
        let other = await fixture.refusal(token, .bearer(clientCertificate: certificate + [0]))
        #expect(other?.code == .bindingMismatch)
        #expect(other?.reason == "the client certificate is not the one the token is bound to (cnf.x5t#S256)")
        #expect(await #expect(throws: TokenVerificationError.self) { try await fixture.verifier.verify(token) }?.code == .bindingMismatch)
        let verified = try await fixture.verifier.verify(token, presentation: .bearer(clientCertificate: certificate))
        #expect(verified.cnf == TesseraJOSE.Confirmation(x5tS256: x5t))
        // Not DPoP-bound: the DPoP scheme is refused even with the certificate.
        let key = try SigningKey.generate(.es256)
        let asDPoP = await fixture.refusal(
            token, .dpop(proof: try fixture.proof(key, for: token), method: "GET", url: BindingFixture.url, clientCertificate: certificate))
        #expect(asDPoP?.code == .wrongScheme)
    }

    /// A token bound both ways needs both; a proof refused for the missing
    /// certificate is not remembered, so it still serves once the certificate comes.
    @Test func aTokenBoundBothWaysNeedsBothAndAProofIsRememberedOnlyWhenAllPassed() async throws {
        let fixture = try BindingFixture()
        let key = try SigningKey.generate(.eddsa)
        let certificate: [UInt8] = Array("client certificate".utf8)
        let cnf = TesseraJOSE.Confirmation(jkt: try key.publicJWK.thumbprint(), x5tS256: TesseraJOSE.Confirmation.certificateThumbprint(der: certificate))
        let token = try fixture.token(cnf: cnf)
        let proof = try fixture.proof(key, for: token)
        let noCertificate = await fixture.refusal(token, .dpop(proof: proof, method: "GET", url: BindingFixture.url))
        #expect(noCertificate?.code == .bindingMismatch)
        let asBearer = await fixture.refusal(token, .bearer(clientCertificate: certificate))
        #expect(asBearer?.code == .wrongScheme)
        let verified = try await fixture.verifier.verify(
            token, presentation: .dpop(proof: proof, method: "GET", url: BindingFixture.url, clientCertificate: certificate))
        #expect(verified.cnf == cnf)
        #expect(fixture.verifier.replayCache.count == 1)
    }

    @Test func aProofPassesOnceAndAnotherJtiOrKeyPassesBeside() async throws {
        let fixture = try BindingFixture()
        let key = try SigningKey.generate(.es256), other = try SigningKey.generate(.es256)
        let token = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: try key.publicJWK.thumbprint()))
        let otherToken = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: try other.publicJWK.thumbprint()))
        let proof = try fixture.proof(key, for: token, jti: "jti-1")
        _ = try await fixture.verifier.verify(token, presentation: .dpop(proof: proof, method: "GET", url: BindingFixture.url))
        let replay = await fixture.refusal(token, .dpop(proof: proof, method: "GET", url: BindingFixture.url))
        #expect(replay?.code == .replayedProof)
        #expect(replay?.reason == "the DPoP proof's jti was seen before")
        // The same jti from the same key is a replay even in a new proof; from another key it is not.
        let again = await fixture.refusal(
            token, .dpop(proof: try fixture.proof(key, for: token, iat: fixture.now - 1, jti: "jti-1"), method: "GET", url: BindingFixture.url))
        #expect(again?.code == .replayedProof)
        _ = try await fixture.verifier.verify(
            otherToken, presentation: .dpop(proof: try fixture.proof(other, for: otherToken, jti: "jti-1"), method: "GET", url: BindingFixture.url))
        _ = try await fixture.verifier.verify(
            token, presentation: .dpop(proof: try fixture.proof(key, for: token, jti: "jti-2"), method: "GET", url: BindingFixture.url))
        // Once the window has passed, the old proof is refused for its age, and its jti forgotten.
        fixture.clock.advance(301)
        let old = await fixture.refusal(token, .dpop(proof: proof, method: "GET", url: BindingFixture.url))
        #expect(old?.code == .invalidProof)
        #expect(old?.reason == "the DPoP proof is too old")
    }

    @Test func oneProofSentFiftyTimesAtOncePassesOnce() async throws {
        let fixture = try BindingFixture()
        let key = try SigningKey.generate(.es256)
        let token = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: try key.publicJWK.thumbprint()))
        let proof = try fixture.proof(key, for: token)
        let verifier = fixture.verifier
        let outcomes = await withTaskGroup(of: TokenVerificationError.Code?.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    do {
                        _ = try await verifier.verify(token, presentation: .dpop(proof: proof, method: "GET", url: BindingFixture.url))
                        return nil
                    } catch {
                        return (error as? TokenVerificationError)?.code ?? .malformed
                    }
                }
            }
            return await group.reduce(into: [TokenVerificationError.Code?]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == nil }.count == 1)
        #expect(outcomes.filter { $0 == .replayedProof }.count == 49)
    }

    @Test func aFullReplayCacheRefusesUntilProofsAgeOut() async throws {
        var configuration = TokenVerifier.Configuration()
        configuration.dpopReplayCacheCapacity = 2
        let fixture = try BindingFixture(configuration: configuration)
        let key = try SigningKey.generate(.es256)
        let token = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: try key.publicJWK.thumbprint()), lifetime: 3600)
        for _ in 0..<2 {
            _ = try await fixture.verifier.verify(token, presentation: .dpop(proof: try fixture.proof(key, for: token), method: "GET", url: BindingFixture.url))
        }
        let full = await fixture.refusal(token, .dpop(proof: try fixture.proof(key, for: token), method: "GET", url: BindingFixture.url))
        #expect(full?.code == .replayCacheFull)
        #expect(full?.reason == "the DPoP replay cache holds 2 proofs inside their window")
        // The first two are kept until iat + 300; one second later they are gone.
        fixture.clock.advance(300)
        #expect(
            await fixture.refusal(token, .dpop(proof: try fixture.proof(key, for: token), method: "GET", url: BindingFixture.url))?.code == .replayCacheFull)
        fixture.clock.advance(1)
        _ = try await fixture.verifier.verify(token, presentation: .dpop(proof: try fixture.proof(key, for: token), method: "GET", url: BindingFixture.url))
        #expect(fixture.verifier.replayCache.count == 1)
    }
}
