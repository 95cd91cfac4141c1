import Foundation
import Hummingbird
import Synchronization
import TesseraJOSE
import TesseraVerifier
import Testing

@Suite struct IntrospectedBindingTests {
    @Test func onlineModeChecksTheBindingTheIssuerAnswers() async throws {
        let introspection = try FakeIntrospection()
        let client = IntrospectionClient(endpoint: introspection.endpoint, clientID: "rs", secret: "s")
        let fixture = try BindingFixture(mode: .online(client))
        let key = try SigningKey.generate(.es256), thief = try SigningKey.generate(.es256)
        let jkt = try key.publicJWK.thumbprint()
        // Online, the token is whatever the issuer recognises: its answer carries the binding.
        let bound = "bound-token", unbound = "unbound-token"
        introspection.answers.withLock {
            $0[bound] = FakeIntrospection.active(cnf: #"{"jkt":"\#(jkt)"}"#, now: fixture.now)
            $0[unbound] = FakeIntrospection.active(cnf: nil, now: fixture.now, tokenType: "Bearer")
        }
        try await serving(introspection.application()) {
            try await waitUntilServing(port: introspection.port)
            let verified = try await fixture.verifier.verify(
                bound, presentation: .dpop(proof: try fixture.proof(key, for: bound), method: "GET", url: BindingFixture.url))
            #expect(verified.cnf == TesseraJOSE.Confirmation(jkt: jkt))
            #expect(await fixture.refusal(bound, .bearer())?.code == .wrongScheme)
            let stolen = await fixture.refusal(bound, .dpop(proof: try fixture.proof(thief, for: bound), method: "GET", url: BindingFixture.url))
            #expect(stolen?.code == .bindingMismatch)
            let unboundAsDPoP = await fixture.refusal(unbound, .dpop(proof: try fixture.proof(key, for: unbound), method: "GET", url: BindingFixture.url))
            #expect(unboundAsDPoP?.code == .wrongScheme)
            #expect(try await fixture.verifier.verify(unbound).cnf == nil)
        }
    }

    @Test func hybridModeRefusesAnIntrospectionAnswerWithAnotherCnf() async throws {
        let introspection = try FakeIntrospection()
        let client = IntrospectionClient(endpoint: introspection.endpoint, clientID: "rs", secret: "s")
        let fixture = try BindingFixture(mode: .hybrid(client, maximumAge: 3600))
        let key = try SigningKey.generate(.es256), other = try SigningKey.generate(.es256)
        let jkt = try key.publicJWK.thumbprint(), otherJKT = try other.publicJWK.thumbprint()
        let agreeing = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: jkt))
        let disagreeing = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: jkt))
        let silent = try fixture.token(cnf: TesseraJOSE.Confirmation(jkt: jkt))
        introspection.answers.withLock {
            $0[agreeing] = FakeIntrospection.active(cnf: #"{"jkt":"\#(jkt)"}"#, now: fixture.now)
            $0[disagreeing] = FakeIntrospection.active(cnf: #"{"jkt":"\#(otherJKT)"}"#, now: fixture.now)
            $0[silent] = FakeIntrospection.active(cnf: nil, now: fixture.now)
        }
        try await serving(introspection.application()) {
            try await waitUntilServing(port: introspection.port)
            let verified = try await fixture.verifier.verify(
                agreeing, presentation: .dpop(proof: try fixture.proof(key, for: agreeing), method: "GET", url: BindingFixture.url), sensitive: true)
            #expect(verified.cnf == TesseraJOSE.Confirmation(jkt: jkt))
            for token in [disagreeing, silent] {
                let error = await #expect(throws: TokenVerificationError.self) {
                    try await fixture.verifier.verify(
                        token, presentation: .dpop(proof: try fixture.proof(key, for: token), method: "GET", url: BindingFixture.url), sensitive: true)
                }
                #expect(error?.code == .bindingMismatch)
                #expect(error?.reason == "the issuer's introspection answer has another cnf than the token")
            }
            #expect(await client.requestCount == 3)
        }
    }
}
