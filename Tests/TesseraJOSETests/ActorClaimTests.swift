import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import TesseraJOSE

/// The `act` claim (RFC 8693 §4.1) read the same way by both readers.
@Suite struct ActorClaimTests {
    static func claims(depth: Int) -> [UInt8] {
        var act = "null"
        for index in (0..<depth).reversed() { act = #"{"sub":"a\#(index)","client_id":"c\#(index)","act":\#(act)}"# }
        let json = #"{"iss":"i","sub":"s","aud":"a","exp":2000000000,"iat":1,"jti":"j","client_id":"c","act":\#(act)}"#
        return Array(json.utf8)
    }

    @Test func eightActorsReadBackInOrderThroughBothReaders() throws {
        let direct = try AccessTokenClaims(json: Self.claims(depth: 8))
        let decoded = try JSONDecoder().decode(AccessTokenClaims.self, from: Data(Self.claims(depth: 8)))
        #expect(direct.act.map(\.sub) == (0..<8).map { "a\($0)" })
        #expect(decoded.act == direct.act)
        // Written and read again, the chain is unchanged.
        #expect(try AccessTokenClaims(json: direct.json).act == direct.act)
    }

    @Test func aNinthActorIsRefusedNotCutShort() {
        #expect(throws: (any Error).self) { try AccessTokenClaims(json: Self.claims(depth: 9)) }
        #expect(throws: (any Error).self) { try JSONDecoder().decode(AccessTokenClaims.self, from: Data(Self.claims(depth: 9))) }
    }
}
