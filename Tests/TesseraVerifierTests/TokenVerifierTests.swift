import Foundation
import TesseraJOSE
import Testing

@testable import TesseraVerifier

/// Claim checks, with a fixed key set and a controlled clock.
@Suite struct TokenVerifierClaimTests {
    let key: SigningKey
    let clock = ManualClock()
    let verifier: TokenVerifier
    static let issuer = "https://issuer.example"

    init() throws {
        key = try SigningKey.generate(.es256)
        let clock = self.clock
        verifier = TokenVerifier(
            issuer: Self.issuer, audience: "https://api.example", keys: JWKSet(keys: [key.publicJWK]), now: { clock.now }
        )
    }

    func rejection(_ token: String) async -> TokenVerificationError? {
        await #expect(throws: TokenVerificationError.self) { try await verifier.verify(token) }
    }

    @Test func validTokenExposesItsClaims() async throws {
        let token = try accessToken(key, issuer: Self.issuer, scope: "orders:read orders:write", iat: clock.now)
        let verified = try await verifier.verify(token)
        #expect(verified.subject == "9b2f1c1e-0000-4000-8000-000000000001")
        #expect(verified.clientID == "tsc_client")
        #expect(verified.tenant == "7c1d1c1e-0000-4000-8000-000000000002")
        #expect(verified.roles == ["analyst"])
        #expect(verified.scopes == ["orders:read", "orders:write"])
        try verified.require(scopes: "orders:read")
        let error = #expect(throws: TokenVerificationError.self) { try verified.require(scopes: "orders:read", "admin") }
        #expect(error?.code == .insufficientScope)
        #expect(error?.reason == "missing scope: admin")
    }

    @Test func wrongAudienceIsRejected() async throws {
        let error = await rejection(try accessToken(key, issuer: Self.issuer, audience: ["https://other.example"], iat: clock.now))
        #expect(error?.code == .wrongAudience)
    }

    @Test func wrongIssuerIsRejected() async throws {
        let error = await rejection(try accessToken(key, issuer: "https://evil.example", iat: clock.now))
        #expect(error?.code == .wrongIssuer)
    }

    @Test func expiryHonoursTheLeeway() async throws {
        let token = try accessToken(key, issuer: Self.issuer, iat: clock.now, lifetime: 60)
        clock.advance(60 + 29)
        _ = try await verifier.verify(token)
        clock.advance(2)
        #expect(await rejection(token)?.code == .expired)
    }

    /// A token with these time claims, everything else as ``accessToken`` makes it.
    func token(iat: Int64, nbf: Int64, exp: Int64) throws -> String {
        let claims = AccessTokenClaims(
            iss: Self.issuer, sub: "9b2f1c1e-0000-4000-8000-000000000001", aud: ["https://api.example"], exp: exp, iat: iat, nbf: nbf,
            jti: UUID().uuidString, clientID: "tsc_client", scope: "orders:read", tenant: "7c1d1c1e-0000-4000-8000-000000000002", roles: ["analyst"]
        )
        return try JWS.sign(payload: Array(try JSONEncoder().encode(claims)), with: key, type: "at+jwt")
    }

    /// Each token is wrong in one time claim only, beyond the 30 s leeway, and gets
    /// that claim's code; at the leeway's edge it still passes.
    @Test func notYetValidAndIssuedInTheFutureAreRejected() async throws {
        let now = Int64(clock.now.timeIntervalSince1970)
        let notBefore = try token(iat: now, nbf: now + 120, exp: now + 300)
        #expect(await rejection(notBefore)?.code == .notYetValid)
        let issuedLater = try token(iat: now + 120, nbf: now, exp: now + 300)
        #expect(await rejection(issuedLater)?.code == .issuedInFuture)
        _ = try await verifier.verify(try token(iat: now + 30, nbf: now + 30, exp: now + 300))
        #expect(await rejection(try token(iat: now, nbf: now + 31, exp: now + 300))?.code == .notYetValid)
        #expect(await rejection(try token(iat: now + 31, nbf: now, exp: now + 300))?.code == .issuedInFuture)
    }

    @Test func wrongTypeIsRejected() async throws {
        let plainJWT = try accessToken(key, issuer: Self.issuer, iat: clock.now, type: "JWT")
        #expect(await rejection(plainJWT)?.code == .wrongType)
    }

    /// A payload changed after signing (here: one more scope, still well-formed JSON)
    /// fails on its signature, which is checked before the claims are read.
    @Test func tamperedTokenIsRejected() async throws {
        let parts = try accessToken(key, issuer: Self.issuer, scope: "orders:read", iat: clock.now).split(separator: ".")
        let payload = String(decoding: try #require(Base64URL.decode(parts[1])), as: UTF8.self)
        #expect(payload.contains(#""scope":"orders:read""#))
        let widened = payload.replacingOccurrences(of: #""scope":"orders:read""#, with: #""scope":"orders:read orders:write""#)
        let tampered = "\(parts[0]).\(Base64URL.encode(widened)).\(parts[2])"
        #expect(await rejection(tampered)?.code == .invalidSignature)
        // Bytes that are no JSON at all, under a good signature's header: still the signature.
        var flipped = try #require(Base64URL.decode(parts[1]))
        flipped[flipped.count / 2] ^= 0x01
        #expect(await rejection("\(parts[0]).\(Base64URL.encode(flipped)).\(parts[2])")?.code == .invalidSignature)
    }

    @Test func algNoneAndHMACAreRejected() async throws {
        let parts = try accessToken(key, issuer: Self.issuer, iat: clock.now).split(separator: ".")
        for alg in ["none", "HS256"] {
            let header = Base64URL.encode(#"{"alg":"\#(alg)","kid":"\#(key.keyID)","typ":"at+jwt"}"#)
            #expect(await rejection("\(header).\(parts[1]).\(parts[2])")?.code == .algorithmNotAllowed)
        }
    }

    @Test func algorithmOtherThanTheKeysIsRejected() async throws {
        let parts = try accessToken(key, issuer: Self.issuer, iat: clock.now).split(separator: ".")
        let header = Base64URL.encode(#"{"alg":"EdDSA","kid":"\#(key.keyID)","typ":"at+jwt"}"#)
        #expect(await rejection("\(header).\(parts[1]).\(parts[2])")?.code == .algorithmNotAllowed)
    }

    @Test func unknownKidIsRejected() async throws {
        let stranger = try SigningKey.generate(.es256)
        #expect(await rejection(try accessToken(stranger, issuer: Self.issuer, iat: clock.now))?.code == .unknownKey)
    }

    @Test func garbageIsMalformed() async throws {
        for token in ["", "x", "a.b.c", String(repeating: "A", count: 20_000)] {
            #expect(await rejection(token)?.code == .malformed)
        }
    }
}

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

@Suite struct VerifiedTokenCacheTests {
    static func verified(exp: Int64) -> VerifiedToken {
        VerifiedToken(
            claims: AccessTokenClaims(
                iss: "https://issuer.example", sub: "s", aud: ["a"], exp: exp, iat: exp - 300, nbf: exp - 300, jti: "j",
                clientID: "c", scope: "x", tenant: "t", roles: []
            ))
    }

    @Test func entriesNeverOutliveExpOrTheLifetime() {
        let cache = VerifiedTokenCache<VerifiedToken>(capacity: 10, lifetime: 60)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let shortLived = Self.verified(exp: 1_800_000_030)
        cache.insert(shortLived, for: "token-a", expiresAt: shortLived.claims.exp, now: start)
        #expect(cache["token-a", start.addingTimeInterval(29)] == shortLived)
        #expect(cache["token-a", start.addingTimeInterval(30)] == nil)

        let longLived = Self.verified(exp: 1_800_003_600)
        cache.insert(longLived, for: "token-b", expiresAt: longLived.claims.exp, now: start)
        #expect(cache["token-b", start.addingTimeInterval(59)] == longLived)
        #expect(cache["token-b", start.addingTimeInterval(60)] == nil)
        // Only the exact text is a hit.
        cache.insert(longLived, for: "token-b", expiresAt: longLived.claims.exp, now: start)
        #expect(cache["token-b ", start] == nil)
        #expect(cache["token-", start] == nil)
    }

    @Test func theCacheIsBoundedAndCanBeTurnedOff() {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let token = Self.verified(exp: 1_800_003_600)
        let cache = VerifiedTokenCache<VerifiedToken>(capacity: 2, lifetime: 60)
        cache.insert(token, for: "1", expiresAt: token.claims.exp, now: start)
        cache.insert(token, for: "2", expiresAt: token.claims.exp, now: start)
        cache.insert(token, for: "3", expiresAt: token.claims.exp, now: start)
        #expect(cache["1", start] == nil)
        #expect(cache["3", start] == token)
        let off = VerifiedTokenCache<VerifiedToken>(capacity: 0, lifetime: 60)
        off.insert(token, for: "1", expiresAt: token.claims.exp, now: start)
        #expect(off["1", start] == nil)
    }

    @Test func aRememberedTokenIsStillCheckedForExpiry() async throws {
        let key = try SigningKey.generate(.es256)
        let clock = ManualClock()
        var configuration = TokenVerifier.Configuration()
        configuration.leeway = 0
        let verifier = TokenVerifier(
            issuer: "https://issuer.example", audience: "https://api.example", keys: JWKSet(keys: [key.publicJWK]),
            configuration: configuration, now: { clock.now }
        )
        let token = try accessToken(key, issuer: "https://issuer.example", iat: clock.now, lifetime: 60)
        _ = try await verifier.verify(token)
        clock.advance(30)
        _ = try await verifier.verify(token)
        clock.advance(31)
        let error = await #expect(throws: TokenVerificationError.self) { try await verifier.verify(token) }
        #expect(error?.code == .expired)
    }
}
