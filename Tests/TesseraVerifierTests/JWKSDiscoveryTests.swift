import Foundation
import TesseraJOSE
import Testing

@testable import TesseraVerifier

/// Discovery and JWKS caching against a stand-in issuer on a real socket.
@Suite struct JWKSDiscoveryTests {
    @Test func keysAreFetchedOnceAndCachedForMaxAge() async throws {
        let issuer = try FakeIssuer()
        let key = try SigningKey.generate(.es256)
        issuer.publish([key.publicJWK])
        let clock = ManualClock()
        let verifier = TokenVerifier(issuer: issuer.issuer, audience: "https://api.example", now: { clock.now })
        try await serving(issuer.application()) {
            try await waitUntilServing(port: issuer.port)
            for _ in 0..<5 { _ = try await verifier.verify(try accessToken(key, issuer: issuer.issuer, iat: clock.now)) }
            #expect(issuer.jwksFetches == 1)
            clock.advance(301)
            _ = try await verifier.verify(try accessToken(key, issuer: issuer.issuer, iat: clock.now))
            #expect(issuer.jwksFetches == 2)
        }
    }

    @Test func unknownKidRefreshesOnceThenIsRateLimited() async throws {
        let issuer = try FakeIssuer()
        let old = try SigningKey.generate(.es256), new = try SigningKey.generate(.eddsa), stranger = try SigningKey.generate(.es256)
        issuer.publish([old.publicJWK])
        let clock = ManualClock()
        let verifier = TokenVerifier(issuer: issuer.issuer, audience: "https://api.example", now: { clock.now })
        try await serving(issuer.application()) {
            try await waitUntilServing(port: issuer.port)
            _ = try await verifier.verify(try accessToken(old, issuer: issuer.issuer, iat: clock.now))
            #expect(issuer.jwksFetches == 1)
            // Rotation: the new key appears; a token signed by it triggers one refresh after the interval.
            issuer.publish([new.publicJWK, old.publicJWK])
            clock.advance(11)
            _ = try await verifier.verify(try accessToken(new, issuer: issuer.issuer, iat: clock.now))
            #expect(issuer.jwksFetches == 2)
            // An unknown kid right after a refresh does not cause another fetch.
            let error = await #expect(throws: TokenVerificationError.self) {
                try await verifier.verify(try accessToken(stranger, issuer: issuer.issuer, iat: clock.now))
            }
            #expect(error?.code == .unknownKey)
            #expect(issuer.jwksFetches == 2)
        }
    }

    @Test func metadataForAnotherIssuerIsRefused() async throws {
        let issuer = try FakeIssuer()
        let key = try SigningKey.generate(.es256)
        issuer.publish([key.publicJWK])
        issuer.state.withLock { $0.metadataIssuer = "https://impostor.example" }
        let verifier = TokenVerifier(issuer: issuer.issuer, audience: "https://api.example")
        try await serving(issuer.application()) {
            try await waitUntilServing(port: issuer.port)
            let error = await #expect(throws: TokenVerificationError.self) {
                try await verifier.verify(try accessToken(key, issuer: issuer.issuer))
            }
            #expect(error?.code == .keysUnavailable)
            #expect(issuer.jwksFetches == 0)
        }
    }

    @Test func unreachableIssuerIsKeysUnavailable() async throws {
        let verifier = TokenVerifier(issuer: "http://127.0.0.1:\(try freePort())", audience: "https://api.example")
        let key = try SigningKey.generate(.es256)
        let error = await #expect(throws: TokenVerificationError.self) {
            try await verifier.verify(try accessToken(key, issuer: verifier.issuer))
        }
        #expect(error?.code == .keysUnavailable)
    }

    @Test func cacheControlMaxAgeIsParsed() {
        #expect(JWKSSource.maxAge("public, max-age=120") == 120)
        #expect(JWKSSource.maxAge("max-age=\"60\"") == 60)
        #expect(JWKSSource.maxAge("no-store") == 0)
        #expect(JWKSSource.maxAge("public") == nil)
    }
}
