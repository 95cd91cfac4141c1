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
