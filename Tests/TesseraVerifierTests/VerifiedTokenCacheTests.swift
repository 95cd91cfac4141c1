import Foundation
import TesseraJOSE
import Testing

@testable import TesseraVerifier

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
