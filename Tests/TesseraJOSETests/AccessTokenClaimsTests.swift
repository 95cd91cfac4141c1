import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import TesseraJOSE

@Suite struct AccessTokenClaimsTests {
    @Test func singleAudienceIsAStringAndDecodesBack() throws {
        let claims = AccessTokenClaims(
            iss: "https://issuer.example", sub: "s", aud: ["https://api.example"], exp: 2, iat: 1, nbf: 1, jti: "j",
            clientID: "c", scope: "a b", tenant: "t", roles: ["admin"]
        )
        let encoded = try JSONEncoder().encode(claims)
        let object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        #expect(object["aud"] as? String == "https://api.example")
        #expect(object["client_id"] as? String == "c")
        #expect(try JSONDecoder().decode(AccessTokenClaims.self, from: encoded) == claims)
        #expect(claims.scopes == ["a", "b"])
    }

    @Test func audienceArrayDecodes() throws {
        let json = #"{"iss":"i","sub":"s","aud":["a","b"],"exp":2,"iat":1,"jti":"j","client_id":"c"}"#
        let claims = try JSONDecoder().decode(AccessTokenClaims.self, from: Data(json.utf8))
        #expect(claims.aud == ["a", "b"])
        #expect(claims.nbf == 1)
        #expect(claims.scope == "")
    }
}
