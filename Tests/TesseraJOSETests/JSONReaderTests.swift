import Foundation
import TesseraJOSE
import Testing

@Suite struct JSONReaderTests {
    private func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

    @Test func readsEveryKindOfValue() throws {
        let value = try parse(
            #" { "s" : "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\udd11" , "n": [0, -12, 1.5e3, 2E-2], "t": true, "f": false, "z": null, "o": {}, "a": [] } "#)
        #expect(
            value
                == .object([
                    "s": .string("a\"b\\c/d\u{8}\u{c}\n\r\té🔑"),
                    "n": .array([.number("0"), .number("-12"), .number("1.5e3"), .number("2E-2")]),
                    "t": .bool(true), "f": .bool(false), "z": .null, "o": .object([:]), "a": .array([]),
                ]))
        #expect(try parse("1800000000").int64 == 1_800_000_000)
        #expect(try parse("-9223372036854775808").int64 == .min)
        #expect(try parse("9223372036854775808").int64 == nil)
        #expect(try parse("1.0").int64 == nil)
        #expect(try parse("1e3").int64 == nil)
        #expect(try parse(#"["a","b"]"#).strings == ["a", "b"])
        #expect(try parse(#"["a",1]"#).strings == nil)
        #expect(try parse(#""é""#).string == "é")
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]", "01", "-", "1.", ".5", "1e", "+1", "tru", "nul",
        "\"unterminated", "\"a\u{1}b\"", "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\udd11\"", "\"\\ud83d\\u0041\"",
        "{\"a\":1,\"a\":2}", "1 2", "[1]x", "NaN", "'a'",
    ])
    func refusesWhatIsNotStrictJSON(_ text: String) {
        #expect(throws: JSONValue.Malformed.self) { try parse(text) }
    }

    @Test func refusesInvalidUTF8AndDeepNesting() throws {
        #expect(throws: JSONValue.Malformed.self) { try JSONValue.parse([UInt8(ascii: "\""), 0xC3, 0x28, UInt8(ascii: "\"")]) }
        #expect(throws: JSONValue.Malformed.self) { try JSONValue.parse([UInt8(ascii: "\""), 0xFF, UInt8(ascii: "\"")]) }
        #expect(throws: JSONValue.Malformed.self) { try parse(String(repeating: "[", count: 33) + String(repeating: "]", count: 33)) }
        #expect(try parse(String(repeating: "[", count: 32) + String(repeating: "]", count: 32)) != .null)
    }

    @Test func claimsReadByHandMatchJSONDecoder() throws {
        let documents = [
            #"{"iss":"https://i","sub":"s","aud":"https://a","exp":2,"iat":1,"nbf":1,"jti":"j","client_id":"c","scope":"a b","tenant":"t","roles":["r"],"extra":{"x":[1]}}"#,
            #"{"iss":"https://i","sub":"s","aud":["a","b"],"exp":2,"iat":1,"jti":"j","client_id":"c"}"#,
            #"{"iss":"https://i","sub":"s","aud":["a"],"exp":2,"iat":1,"jti":"j","client_id":"c","scope":null,"roles":null,"nbf":null}"#,
        ]
        for document in documents {
            let expected = try JSONDecoder().decode(AccessTokenClaims.self, from: Data(document.utf8))
            #expect(try AccessTokenClaims(json: Array(document.utf8)) == expected)
        }
        for missing in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"] {
            let document = #"{"iss":"i","sub":"s","aud":"a","exp":2,"iat":1,"jti":"j","client_id":"c"}"#
                .replacingOccurrences(of: "\"\(missing)\":", with: "\"x_\(missing)\":")
            #expect(throws: JOSEError.self) { try AccessTokenClaims(json: Array(document.utf8)) }
        }
        for wrong in [#""exp":"2""#, #""exp":2.5"#, #""aud":[1]"#, #""aud":{}"#, #""roles":"r""#, #""scope":1"#, #""sub":null"#] {
            let document = #"{"iss":"i","sub":"s","aud":"a","exp":2,"iat":1,"jti":"j","client_id":"c","# + wrong + "}"
            #expect(throws: (any Error).self, "\(wrong)") { try AccessTokenClaims(json: Array(document.utf8)) }
        }
    }

    @Test func headersReadByHand() throws {
        let header = try JWSHeader(json: Array(#"{"alg":"ES256","kid":"k1","typ":"at+jwt","x5u":"ignored"}"#.utf8))
        #expect(header == JWSHeader(alg: "ES256", kid: "k1", typ: "at+jwt"))
        #expect(try JWSHeader(json: Array(#"{"alg":"ES256","kid":null}"#.utf8)).kid == nil)
        #expect(try JWSHeader(json: Array(#"{"alg":"ES256","crit":["b64"]}"#.utf8)).crit == ["b64"])
        for bad in [#"{"kid":"k"}"#, #"{"alg":1}"#, #"{"alg":"ES256","kid":5}"#, #"{"alg":"ES256","alg":"none"}"#, #"["alg"]"#] {
            #expect(throws: (any Error).self, "\(bad)") { try JWSHeader(json: Array(bad.utf8)) }
        }
    }
}
