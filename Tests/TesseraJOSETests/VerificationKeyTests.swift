import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import TesseraJOSE

@Suite struct VerificationKeyTests {
    @Test func rsaKeyWithoutAlgIsRefused() throws {
        var jwk = try SigningKey.generate(.rs256).publicJWK
        jwk.alg = nil
        #expect(throws: JOSEError.invalidKey("an RSA key must name its algorithm (RS256 or PS256)")) { try VerificationKey(jwk: jwk) }
    }

    @Test func ecKeyClaimingAnotherAlgorithmIsRefused() throws {
        var jwk = try SigningKey.generate(.es256).publicJWK
        jwk.alg = "EdDSA"
        let error = try #require(throws: JOSEError.self) { try VerificationKey(jwk: jwk) }
        #expect(error.isAlgorithmMismatch)
    }

    @Test func encryptionKeyIsRefused() throws {
        var jwk = try SigningKey.generate(.es256).publicJWK
        jwk.use = "enc"
        #expect(throws: JOSEError.invalidKey("key use \"enc\" is not \"sig\"")) { try VerificationKey(jwk: jwk) }
    }

    @Test func pointOffTheCurveIsRefused() throws {
        var jwk = try SigningKey.generate(.es256).publicJWK
        jwk.y = Base64URL.encode([UInt8](repeating: 7, count: 32))
        #expect(throws: JOSEError.invalidKey("P-256 point is not on the curve")) { try VerificationKey(jwk: jwk) }
    }

    @Test func symmetricKeyIsRefused() {
        #expect(throws: JOSEError.invalidKey("key type \"oct\" is not supported")) { try VerificationKey(jwk: JWK(kty: "oct")) }
    }

    @Test func keySetSkipsUnusableKeysButKeepsTheRest() throws {
        let good = try SigningKey.generate(.es256)
        var rsaWithoutAlg = try SigningKey.generate(.rs256).publicJWK
        rsaWithoutAlg.alg = nil
        let set = KeySet(jwks: JWKSet(keys: [rsaWithoutAlg, good.publicJWK, JWK(kty: "oct", kid: "hmac")]))
        #expect(set.keyIDs == [good.keyID])
    }
}
