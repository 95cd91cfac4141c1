import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import TesseraJOSE

@Suite struct JSONOutputTests {
    @Test func claimsWrittenByHandMatchJSONEncoder() throws {
        for aud in [["https://api.example"], ["a", "b/c"]] {
            let claims = AccessTokenClaims(
                iss: "https://issuer.example/t", sub: "9b2f1c1e", aud: aud, exp: 1_800_003_600, iat: 1_800_000_000, nbf: 1_800_000_000,
                jti: "j\"q\\u\u{1}\n\t\u{7f}é🔑", clientID: "tsc_x", scope: "a:b c", tenant: "t", roles: ["admin", "r\u{0}"]
            )
            let encoder = JSONEncoder()
            encoder.outputFormatting = .withoutEscapingSlashes
            let expected = try JSONSerialization.jsonObject(with: try encoder.encode(claims)) as? NSDictionary
            let written = try JSONSerialization.jsonObject(with: Data(claims.json)) as? NSDictionary
            #expect(written == expected)
            #expect(try JSONDecoder().decode(AccessTokenClaims.self, from: Data(claims.json)) == claims)
            #expect(!String(decoding: claims.json, as: UTF8.self).contains("\\/"))
        }
    }

    @Test func controlCharactersAreEscaped() {
        var output = JSONOutput()
        output.beginObject()
        output.member("k", "\u{1f}\u{8}\u{c}\r")
        output.member("n", Int64(-5))
        output.member("a", [String]())
        output.endObject()
        #expect(String(decoding: output.bytes, as: UTF8.self) == #"{"k":"\u001f\b\f\r","n":-5,"a":[]}"#)
    }
}
