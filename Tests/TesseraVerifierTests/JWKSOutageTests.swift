import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import TesseraServer
import TesseraVerifier
import TesseraVerifierHummingbird
import Testing

@Suite struct JWKSOutageTests {
    @Test func lastGoodKeysServeThroughAnOutageUpToTheStalenessLimit() async throws {
        let issuer = try FakeIssuer()
        let key = try SigningKey.generate(.es256)
        issuer.publish([key.publicJWK])
        let clock = ManualClock()
        var configuration = TokenVerifier.Configuration()
        configuration.maximumStaleness = 600
        let verifier = TokenVerifier(issuer: issuer.issuer, audience: "https://api.example", configuration: configuration, now: { clock.now })
        try await serving(issuer.application()) {
            try await waitUntilServing(port: issuer.port)
            _ = try await verifier.verify(try accessToken(key, issuer: issuer.issuer, iat: clock.now))
        }
        // The issuer is down. 30 seconds past the cache's expiry: the last good keys still verify.
        clock.advance(300 + 30)
        _ = try await verifier.verify(try accessToken(key, issuer: issuer.issuer, iat: clock.now))
        // Past the staleness limit, it stops trusting them.
        clock.advance(600)
        let error = await #expect(throws: TokenVerificationError.self) {
            try await verifier.verify(try accessToken(key, issuer: issuer.issuer, iat: clock.now))
        }
        #expect(error?.code == .keysUnavailable)
    }
}
