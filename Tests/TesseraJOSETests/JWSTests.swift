import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import TesseraJOSE

@Suite struct JWSTests {
    static func token(_ key: SigningKey, payload: String = #"{"sub":"x"}"#, type: String? = "at+jwt") throws -> String {
        try JWS.sign(payload: Array(payload.utf8), with: key, type: type)
    }

    @Test(arguments: JWSAlgorithm.allCases)
    func roundTripsEveryAlgorithm(_ algorithm: JWSAlgorithm) throws {
        let key = try SigningKey.generate(algorithm)
        let token = try Self.token(key)
        let jws = try CompactJWS(token)
        #expect(jws.header.alg == algorithm.rawValue)
        #expect(jws.header.kid == key.keyID)
        #expect(jws.header.typ == "at+jwt")
        try jws.verify(with: KeySet([key.verificationKey]))
        #expect(String(decoding: jws.payload, as: UTF8.self) == #"{"sub":"x"}"#)
    }

    @Test(arguments: JWSAlgorithm.allCases)
    func storedPrivateKeyRestoresTheSameKey(_ algorithm: JWSAlgorithm) throws {
        let key = try SigningKey.generate(algorithm)
        let restored = try SigningKey(algorithm: algorithm, privateKeyBytes: key.privateKeyBytes)
        #expect(restored.keyID == key.keyID)
        #expect(restored.publicJWK == key.publicJWK)
        try CompactJWS(try Self.token(restored)).verify(with: key.verificationKey)
    }

    @Test(arguments: JWSAlgorithm.allCases)
    func publishedJWKIsPublicAndNamesItsAlgorithm(_ algorithm: JWSAlgorithm) throws {
        let key = try SigningKey.generate(algorithm)
        #expect(!key.publicJWK.isPrivate)
        #expect(key.publicJWK.alg == algorithm.rawValue)
        #expect(key.publicJWK.use == "sig")
        #expect(key.publicJWK.kid == (try key.publicJWK.thumbprint()))
        let fromJWK = try VerificationKey(jwk: key.publicJWK)
        #expect(fromJWK.algorithm == algorithm)
    }

    @Test func rejectsAlgNone() throws {
        let key = try SigningKey.generate(.es256)
        let header = Base64URL.encode(#"{"alg":"none","kid":"\#(key.keyID)"}"#)
        let token = header + "." + Base64URL.encode(#"{"sub":"x"}"#) + "." + Base64URL.encode("x")
        let error = try #require(throws: JOSEError.self) { try CompactJWS(token).verify(with: KeySet([key.verificationKey])) }
        #expect(error.isAlgorithmMismatch)
    }

    @Test func rejectsUnsignedTokenWithEmptySignature() throws {
        let token = Base64URL.encode(#"{"alg":"none"}"#) + "." + Base64URL.encode("{}") + "."
        let error = try #require(throws: JOSEError.self) { try CompactJWS(token) }
        #expect(error.isMalformed)
    }

    @Test func rejectsHeaderAlgorithmOtherThanTheKeys() throws {
        // An ES256 key's token relabelled as RS256 must fail before any signature check.
        let key = try SigningKey.generate(.es256)
        let parts = try Self.token(key).split(separator: ".")
        let forged = Base64URL.encode(#"{"alg":"RS256","kid":"\#(key.keyID)","typ":"at+jwt"}"#) + "." + parts[1] + "." + parts[2]
        let error = try #require(throws: JOSEError.self) { try CompactJWS(forged).verify(with: key.verificationKey) }
        #expect(error.isAlgorithmMismatch)
    }

    /// The classic confusion attack: the attacker takes the published public key,
    /// uses its bytes as an HMAC secret and signs with HS256, hoping the verifier
    /// hands the same bytes to HMAC. The MAC here is genuine (HMAC-SHA256 over the
    /// signing input, keyed with the public key as PEM, DER, its JWK and its modulus):
    /// only the verifier's refusal of HS256 for an RSA key stops it.
    @Test func rejectsHMACWithThePublicKeyAsSecret() throws {
        let key = try SigningKey.generate(.rs256)
        let publicKey = try _RSA.Signing.PrivateKey(derRepresentation: key.privateKeyBytes).publicKey
        let modulus = try #require(key.publicJWK.n)
        let secrets: [(String, [UInt8])] = [
            ("PEM", Array(publicKey.pemRepresentation.utf8)),
            ("DER", Array(publicKey.derRepresentation)),
            ("JWK", Array(try JSONEncoder().encode(key.publicJWK))),
            ("modulus", try #require(Base64URL.decode(modulus))),
        ]
        let header = Base64URL.encode(#"{"alg":"HS256","kid":"\#(key.keyID)","typ":"at+jwt"}"#)
        let signingInput = Array((header + "." + Base64URL.encode(#"{"sub":"x"}"#)).utf8)
        for (form, secret) in secrets {
            let mac = HMAC<SHA256>.authenticationCode(for: signingInput, using: SymmetricKey(data: secret))
            #expect(HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: signingInput, using: SymmetricKey(data: secret)))
            let token = String(decoding: signingInput, as: UTF8.self) + "." + Base64URL.encode(Array(mac))
            let throughSet = try #require(throws: JOSEError.self) { try CompactJWS(token).verify(with: KeySet([key.verificationKey])) }
            #expect(throughSet.isAlgorithmMismatch, "\(form)")
            let direct = try #require(throws: JOSEError.self) { try CompactJWS(token).verify(with: key.verificationKey) }
            #expect(direct.isAlgorithmMismatch, "\(form)")
        }
    }

    @Test func rejectsUnknownKeyID() throws {
        let signer = try SigningKey.generate(.es256)
        let other = try SigningKey.generate(.es256)
        let error = try #require(throws: JOSEError.self) {
            try CompactJWS(try Self.token(signer)).verify(with: KeySet([other.verificationKey]))
        }
        #expect(error.isUnknownKeyID)
    }

    @Test func rejectsMissingKeyID() throws {
        let key = try SigningKey.generate(.es256)
        let parts = try Self.token(key).split(separator: ".")
        let stripped = Base64URL.encode(#"{"alg":"ES256","typ":"at+jwt"}"#) + "." + parts[1] + "." + parts[2]
        let error = try #require(throws: JOSEError.self) { try CompactJWS(stripped).verify(with: KeySet([key.verificationKey])) }
        #expect(error.isUnknownKeyID)
    }

    @Test func rejectsTamperedPayload() throws {
        let key = try SigningKey.generate(.es256)
        let parts = try Self.token(key).split(separator: ".")
        let tampered = parts[0] + "." + Base64URL.encode(#"{"sub":"y"}"#) + "." + parts[2]
        let error = try #require(throws: JOSEError.self) { try CompactJWS(tampered).verify(with: key.verificationKey) }
        #expect(error.isInvalidSignature)
    }

    @Test func rejectsSignatureOfAnotherKeyWithTheSameKid() throws {
        let key = try SigningKey.generate(.eddsa)
        let impostor = try SigningKey.generate(.eddsa)
        let parts = try Self.token(key).split(separator: ".")
        let signature = try impostor.sign(Array("\(parts[0]).\(parts[1])".utf8))
        let forged = parts[0] + "." + parts[1] + "." + Base64URL.encode(signature)
        let error = try #require(throws: JOSEError.self) { try CompactJWS(forged).verify(with: key.verificationKey) }
        #expect(error.isInvalidSignature)
    }

    @Test(arguments: [
        "", "abc", "a.b", "a.b.c.d", "..", "a..c", ".b.c", "a.b.",
        "eyJhbGciOiJFUzI1NiJ9.e30.!!!!", "eyJhbGciOiJFUzI1NiJ9.e3=.AAAA",
        "eyJhbGciOiJFUzI1NiJ9 .e30.AAAA", "bm90IGpzb24.e30.AAAA",
        "W10.e30.AAAA",  // header is a JSON array
        "e30.e30.AAAA",  // header without alg
    ])
    func rejectsMalformedStructure(_ token: String) {
        #expect(throws: JOSEError.self) { try CompactJWS(token) }
    }

    @Test func truncatedTokenIsRejected() throws {
        let key = try SigningKey.generate(.es256)
        let token = try Self.token(key)
        for cut in [1, 10, token.count / 2, token.count - 1] {
            let truncated = String(token.prefix(token.count - cut))
            #expect(throws: JOSEError.self) { try CompactJWS(truncated).verify(with: key.verificationKey) }
        }
    }

    @Test func hugeTokenIsRefusedBeforeDecoding() {
        let huge = String(repeating: "A", count: CompactJWS.maximumLength + 1)
        let error = #expect(throws: JOSEError.self) { try CompactJWS(huge + ".e30.AAAA") }
        #expect(error == JOSEError.tooLarge("token exceeds \(CompactJWS.maximumLength) bytes"))
    }

    @Test func criticalHeaderIsRefused() {
        let token = Base64URL.encode(#"{"alg":"ES256","crit":["exp"],"exp":1}"#) + ".e30.AAAA"
        let error = #expect(throws: JOSEError.self) { try CompactJWS(token) }
        #expect(error?.isMalformed == true)
    }

    @Test func accessTokenHeaderIsExactlyAlgKidTyp() throws {
        let key = try SigningKey.generate(.es256)
        let header = try #require(Base64URL.decode(try Self.token(key).split(separator: ".")[0]))
        #expect(String(decoding: header, as: UTF8.self) == #"{"alg":"ES256","kid":"\#(key.keyID)","typ":"at+jwt"}"#)
    }
}
