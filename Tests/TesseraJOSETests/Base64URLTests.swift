import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import TesseraJOSE

@Suite struct Base64URLTests {
    @Test(arguments: [
        ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(_ plain: String, _ encoded: String) {
        #expect(Base64URL.encode(plain) == encoded)
        #expect(Base64URL.decode(encoded) == Array(plain.utf8))
    }

    @Test func usesTheURLSafeAlphabet() {
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.decode("-_8") == [0xFB, 0xFF])
    }

    @Test(arguments: ["Zg==", "Zm9v+", "Zm9v/", "Z", "Zm9v\n", "Zh", "Zm9=", "Zm 9v"])
    func rejectsNonCanonicalInput(_ input: String) {
        #expect(Base64URL.decode(input) == nil)
    }
}
