import Foundation
import Testing

@testable import TesseraJOSE

/// Published test vectors: RFC 7515 appendix A.3, RFC 7520 §4.1, RFC 8037 appendix A, RFC 7638 §3.1.
@Suite struct PublishedVectorTests {
    static let rfc7515A3Key = JWK(
        kty: "EC", crv: "P-256",
        x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        d: "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
    )
    static let rfc7515A3Token =
        "eyJhbGciOiJFUzI1NiJ9"
        + ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        + ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

    static let rfc8037Key = JWK(
        kty: "OKP", crv: "Ed25519",
        x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    )
    static let rfc8037Token =
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
        + ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"

    static let rfc7520RSAKey = JWK(
        kty: "RSA", kid: "bilbo.baggins@hobbiton.example", use: "sig",
        n:
            "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw",
        e: "AQAB",
        d:
            "bWUC9B-EFRIo8kpGfh0ZuyGPvMNKvYWNtB_ikiH9k20eT-O1q_I78eiZkpXxXQ0UTEs2LsNRS-8uJbvQ-A1irkwMSMkK1J3XTGgdrhCku9gRldY7sNA_AKZGh-Q661_42rINLRCe8W-nZ34ui_qOfkLnK9QWDDqpaIsA-bMwWWSDFu2MUBYwkHTMEzLYGqOe04noqeq1hExBTHBOBdkMXiuFhUq1BU6l-DqEiWxqg82sXt2h-LMnT3046AOYJoRioz75tSUQfGCshWTBnP5uDjd18kKhyv07lhfSJdrPdM5Plyl21hsFf4L_mHCuoFau7gdsPfHPxxjVOcOpBrQzwQ",
        p:
            "3Slxg_DwTXJcb6095RoXygQCAZ5RnAvZlno1yhHtnUex_fp7AZ_9nRaO7HX_-SFfGQeutao2TDjDAWU4Vupk8rw9JR0AzZ0N2fvuIAmr_WCsmGpeNqQnev1T7IyEsnh8UMt-n5CafhkikzhEsrmndH6LxOrvRJlsPp6Zv8bUq0k",
        q:
            "uKE2dh-cTf6ERF4k4e_jy78GfPYUIaUyoSSJuBzp3Cubk3OCqs6grT8bR_cu0Dm1MZwWmtdqDyI95HrUeq3MP15vMMON8lHTeZu2lmKvwqW7anV5UzhM1iZ7z4yMkuUwFWoBvyY898EXvRD-hdqRxHlSqAZ192zB3pVFJ0s7pFc"
    )
    static let rfc7520SigningInput =
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
        + ".SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4"
    static let rfc7520Signature =
        "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg"

    @Test func rfc7515AppendixA3ES256Verifies() throws {
        let key = try VerificationKey(jwk: Self.rfc7515A3Key.publicKey)
        let jws = try CompactJWS(Self.rfc7515A3Token)
        try jws.verify(with: key)
        #expect(jws.header.alg == "ES256")
        #expect(String(decoding: jws.payload, as: UTF8.self) == "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}")
    }

    @Test func rfc7515AppendixA3KeySignsWhatItVerifies() throws {
        let signer = try SigningKey(privateJWK: Self.rfc7515A3Key, algorithm: .es256)
        #expect(signer.publicJWK.x == Self.rfc7515A3Key.x)
        #expect(signer.publicJWK.y == Self.rfc7515A3Key.y)
        let input = Array("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UifQ".utf8)
        let signature = try signer.sign(input)
        #expect(signature.count == 64)
        #expect(try VerificationKey(jwk: Self.rfc7515A3Key.publicKey).isValidSignature(signature, for: input))
    }

    @Test func rfc8037AppendixA4EdDSASignatureIsReproducedExactly() throws {
        let signer = try SigningKey(privateJWK: Self.rfc8037Key, algorithm: .eddsa)
        let parts = Self.rfc8037Token.split(separator: ".")
        let signature = try signer.sign(Array("\(parts[0]).\(parts[1])".utf8))
        #expect(Base64URL.encode(signature) == String(parts[2]))
        let jws = try CompactJWS(Self.rfc8037Token)
        try jws.verify(with: try VerificationKey(jwk: Self.rfc8037Key.publicKey))
        #expect(String(decoding: jws.payload, as: UTF8.self) == "Example of Ed25519 signing")
    }

    @Test func rfc8037AppendixA3Thumbprint() throws {
        #expect(try Self.rfc8037Key.publicKey.thumbprint() == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    }

    @Test func rfc7638Section31Thumbprint() throws {
        let key = JWK(
            kty: "RSA", kid: "2011-04-29", alg: "RS256",
            n:
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            e: "AQAB"
        )
        // Members outside the required set (kid, alg) do not change the thumbprint.
        #expect(try key.thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test func rfc7520Section41RS256SignatureIsReproducedExactly() throws {
        let signer = try SigningKey(privateJWK: Self.rfc7520RSAKey, algorithm: .rs256)
        let signature = try signer.sign(Array(Self.rfc7520SigningInput.utf8))
        #expect(Base64URL.encode(signature) == Self.rfc7520Signature)
        var publicJWK = Self.rfc7520RSAKey.publicKey
        publicJWK.alg = "RS256"
        let jws = try CompactJWS(Self.rfc7520SigningInput + "." + Self.rfc7520Signature)
        try jws.verify(with: try VerificationKey(jwk: publicJWK))
        #expect(jws.header.kid == "bilbo.baggins@hobbiton.example")
    }
}
