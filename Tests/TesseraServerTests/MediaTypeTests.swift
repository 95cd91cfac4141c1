import HTTPTypes
import Logging
import Synchronization
import Testing

@testable import TesseraServer

@Suite struct MediaTypeTests {
    @Test(arguments: [
        ("application/x-www-form-urlencoded", true),
        ("Application/X-WWW-Form-URLEncoded; charset=UTF-8", true),
        (" application/x-www-form-urlencoded\t;charset=utf-8", true),
        ("application/x-www-form-urlencodedx", false),
        ("application/json", false),
        ("application/x-www-form-urlencoded-", false),
        ("", false),
        ("; application/x-www-form-urlencoded", false),
    ])
    func formMediaType(value: String, matches: Bool) {
        #expect(value.hasMediaType("application/x-www-form-urlencoded") == matches)
    }

    @Test func bytesTrimAndCompareLikeHTTP() {
        #expect(Array(" \tab \t".utf8).trimmingOptionalWhitespace().elementsEqual("ab".utf8))
        #expect(Array(" \t".utf8).trimmingOptionalWhitespace().isEmpty)
        #expect(Array("BaSiC ".utf8).equalsIgnoringASCIICase("basic ".utf8))
        #expect(!Array("basic".utf8).equalsIgnoringASCIICase("basic ".utf8))
        // Only letters fold: "@" (0x40) must not match "`" (0x60).
        #expect(!Array("@".utf8).equalsIgnoringASCIICase("`".utf8))
    }
}
