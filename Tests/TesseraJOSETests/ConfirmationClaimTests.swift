import Crypto
import Foundation
import Testing

@testable import TesseraJOSE

@Suite struct ConfirmationClaimTests {
    static let base = #""iss":"i","sub":"s","aud":"a","exp":2000000000,"iat":1,"jti":"j","client_id":"c""#

    @Test func cnfRoundTripsThroughBothReaders() throws {
        var claims = try AccessTokenClaims(json: Array("{\(Self.base)}".utf8))
        #expect(claims.cnf == nil)
        #expect(!String(decoding: claims.json, as: UTF8.self).contains("cnf"))
        claims.cnf = Confirmation(jkt: "abc", x5tS256: "def")
        let written = claims.json
        #expect(String(decoding: written, as: UTF8.self).contains(#""cnf":{"jkt":"abc","x5t#S256":"def"}"#))
        #expect(try AccessTokenClaims(json: written).cnf == claims.cnf)
        #expect(try JSONDecoder().decode(AccessTokenClaims.self, from: Data(written)).cnf == claims.cnf)
        #expect(try JSONDecoder().decode(AccessTokenClaims.self, from: try JSONEncoder().encode(claims)) == claims)
    }

    @Test func aConfirmationMethodThisReaderCannotCheckIsRefused() {
        for cnf in [#"{"jwk":{"kty":"EC"}}"#, #"{"jkt":"a","kid":"b"}"#, "{}", #""abc""#, #"{"jkt":5}"#] {
            let json = Array("{\(Self.base),\"cnf\":\(cnf)}".utf8)
            #expect(throws: (any Error).self, "\(cnf)") { try AccessTokenClaims(json: json) }
            #expect(throws: (any Error).self, "\(cnf)") { try JSONDecoder().decode(AccessTokenClaims.self, from: Data(json)) }
        }
    }

    @Test func theCertificateThumbprintIsTheBase64URLSHA256OfTheDER() {
        let der: [UInt8] = [0x30, 0x03, 0x02, 0x01, 0x01]
        #expect(Confirmation.certificateThumbprint(der: der) == Base64URL.encode(SHA256.hash(data: der)))
    }
}
