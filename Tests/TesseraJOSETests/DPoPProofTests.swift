import Crypto
import Foundation
import Testing

@testable import TesseraJOSE

@Suite struct DPoPProofTests {
    static let url = "https://auth.example.com/oauth2/token"
    static let now: Int64 = 1_800_000_000

    static func proof(
        _ key: SigningKey, method: String = "POST", url: String = url, iat: Int64 = now, jti: String = "j1",
        accessToken: String? = nil, nonce: String? = nil
    ) throws -> String {
        try DPoPProof.sign(with: key, method: method, url: url, iat: iat, jti: jti, accessToken: accessToken, nonce: nonce)
    }

    /// A proof with the given header and claims, signed by `key` whatever they say.
    static func forged(_ key: SigningKey, header: String, claims: String) throws -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        return input + "." + Base64URL.encode(try key.sign(Array(input.utf8)))
    }

    static func jwkJSON(_ key: SigningKey) -> String {
        let jwk = key.publicJWK
        return switch jwk.kty {
        case "EC": #"{"kty":"EC","crv":"P-256","x":"\#(jwk.x!)","y":"\#(jwk.y!)"}"#
        case "OKP": #"{"kty":"OKP","crv":"Ed25519","x":"\#(jwk.x!)"}"#
        default: #"{"kty":"RSA","n":"\#(jwk.n!)","e":"\#(jwk.e!)"}"#
        }
    }

    @Test(arguments: JWSAlgorithm.allCases)
    func aProofSignedByEachAlgorithmVerifiesAndNamesItsKeysThumbprint(_ algorithm: JWSAlgorithm) throws {
        let key = try SigningKey.generate(algorithm)
        let proof = try DPoPProof(try Self.proof(key, accessToken: "tok", nonce: "n1"))
        #expect(proof.thumbprint == (try key.publicJWK.thumbprint()))
        #expect(proof.htm == "POST" && proof.htu == Self.url && proof.iat == Self.now && proof.jti == "j1")
        #expect(proof.nonce == "n1")
        #expect(proof.ath == DPoPProof.accessTokenHash("tok"))
        try proof.check(method: "POST", url: Self.url, now: Self.now, accessToken: "tok")
    }

    /// RFC 9449 §4.2's worked example: an ES256 proof with its key in the header.
    @Test func theRFCsExampleProofVerifies() throws {
        let example =
            "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19"
            + ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ"
            + ".2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
        let proof = try DPoPProof(example)
        #expect(proof.jti == "-BwC3ESc6acc2lTc")
        try proof.check(method: "POST", url: "https://server.example.com/token", now: 1_562_262_616)
        // The thumbprint RFC 9449 §6.1 shows for this key.
        #expect(proof.thumbprint == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
    }

    @Test func theHeaderIsCheckedBeforeAnythingElse() throws {
        let key = try SigningKey.generate(.es256)
        let claims = #"{"jti":"j","htm":"POST","htu":"\#(Self.url)","iat":\#(Self.now)}"#
        let jwk = Self.jwkJSON(key)
        for (header, why) in [
            (#"{"typ":"JWT","alg":"ES256","jwk":\#(jwk)}"#, "typ"),
            (#"{"alg":"ES256","jwk":\#(jwk)}"#, "typ"),
            (#"{"typ":"dpop+jwt","alg":"none","jwk":\#(jwk)}"#, "alg"),
            (#"{"typ":"dpop+jwt","alg":"HS256","jwk":\#(jwk)}"#, "alg"),
            (#"{"typ":"dpop+jwt","alg":"ES256"}"#, "jwk"),
            (#"{"typ":"dpop+jwt","alg":"ES256","jwk":"x"}"#, "jwk"),
            (#"{"typ":"dpop+jwt","alg":"EdDSA","jwk":\#(jwk)}"#, "verify"),
            (#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"oct","k":"c2VjcmV0"}}"#, "public key"),
        ] {
            let error = #expect(throws: DPoPProof.Invalid.self) { try DPoPProof(try Self.forged(key, header: header, claims: claims)) }
            #expect(error?.description.contains(why) == true, "\(header): \(error?.description ?? "")")
        }
        // A private member in the jwk, the private key itself.
        let privateJWK = #"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"\#(key.publicJWK.x!)","y":"\#(key.publicJWK.y!)","d":"AAAA"}}"#
        #expect(throws: DPoPProof.Invalid("the DPoP proof's jwk must be a public key")) {
            try DPoPProof(try Self.forged(key, header: privateJWK, claims: claims))
        }
        // Signed by another key than the one the header carries.
        let other = try SigningKey.generate(.es256)
        #expect(throws: DPoPProof.Invalid.self) {
            try DPoPProof(try Self.forged(other, header: #"{"typ":"dpop+jwt","alg":"ES256","jwk":\#(jwk)}"#, claims: claims))
        }
    }

    @Test func claimsOfTheWrongTypeOrMissingAreRefused() throws {
        let key = try SigningKey.generate(.es256)
        let header = #"{"typ":"dpop+jwt","alg":"ES256","jwk":\#(Self.jwkJSON(key))}"#
        for claims in [
            #"{"htm":"POST","htu":"\#(Self.url)","iat":1}"#,
            #"{"jti":"","htm":"POST","htu":"\#(Self.url)","iat":1}"#,
            #"{"jti":"\#(String(repeating: "a", count: 257))","htm":"POST","htu":"\#(Self.url)","iat":1}"#,
            #"{"jti":"j","htu":"\#(Self.url)","iat":1}"#,
            #"{"jti":"j","htm":"POST","iat":1}"#,
            #"{"jti":"j","htm":"POST","htu":"\#(Self.url)"}"#,
            #"{"jti":"j","htm":"POST","htu":"\#(Self.url)","iat":"1"}"#,
            #"{"jti":"j","htm":"POST","htu":"\#(Self.url)","iat":1e400}"#,
            #"{"jti":"j","htm":"POST","htu":"\#(Self.url)","iat":99999999999999999999999}"#,
            #"{"jti":7,"htm":"POST","htu":"\#(Self.url)","iat":1}"#,
            #"{"jti":"j","jti":"k","htm":"POST","htu":"\#(Self.url)","iat":1}"#,
            "[]",
        ] {
            #expect(throws: DPoPProof.Invalid.self, "\(claims)") { try DPoPProof(try Self.forged(key, header: header, claims: claims)) }
        }
    }

    @Test func theRequestMustBeTheOneTheProofNames() throws {
        let key = try SigningKey.generate(.es256)
        let proof = try DPoPProof(try Self.proof(key))
        #expect(throws: DPoPProof.Invalid("the DPoP proof is for another method")) {
            try proof.check(method: "GET", url: Self.url, now: Self.now)
        }
        #expect(throws: DPoPProof.Invalid("the DPoP proof is for another URL")) {
            try proof.check(method: "POST", url: "https://auth.example.com/oauth2/introspect", now: Self.now)
        }
        #expect(throws: DPoPProof.Invalid("the DPoP proof is too old")) { try proof.check(method: "POST", url: Self.url, now: Self.now + 301) }
        try proof.check(method: "POST", url: Self.url, now: Self.now + 300)
        #expect(throws: DPoPProof.Invalid("the DPoP proof is issued in the future")) {
            try proof.check(method: "POST", url: Self.url, now: Self.now - 61)
        }
        try proof.check(method: "POST", url: Self.url, now: Self.now - 60)
        // Bound to a token: ath must be that token's, and present.
        #expect(throws: DPoPProof.Invalid("the DPoP proof's ath does not match the access token")) {
            try proof.check(method: "POST", url: Self.url, now: Self.now, accessToken: "tok")
        }
        let withHash = try DPoPProof(try Self.proof(key, accessToken: "tok"))
        #expect(throws: DPoPProof.Invalid.self) { try withHash.check(method: "POST", url: Self.url, now: Self.now, accessToken: "other") }
    }

    @Test func urlsCompareWithoutQueryFragmentCaseOrDefaultPort() {
        let same = [
            "https://auth.example.com/oauth2/token", "HTTPS://Auth.Example.COM/oauth2/token", "https://auth.example.com:443/oauth2/token",
            "https://auth.example.com/oauth2/token?x=1", "https://auth.example.com/oauth2/token#f",
        ]
        for url in same { #expect(DPoPProof.normalizedURL(url) == "https://auth.example.com/oauth2/token", "\(url)") }
        #expect(DPoPProof.normalizedURL("http://h:8080") == "http://h:8080/")
        #expect(DPoPProof.normalizedURL("https://auth.example.com/OAuth2/token") != DPoPProof.normalizedURL(Self.url))
        #expect(DPoPProof.normalizedURL("https://auth.example.com:8443/oauth2/token") != DPoPProof.normalizedURL(Self.url))
        for bad in ["/oauth2/token", "ftp://h/x", "not a url", "https:///x"] { #expect(DPoPProof.normalizedURL(bad) == nil, "\(bad)") }
    }
}
