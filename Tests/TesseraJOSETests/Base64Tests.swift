import Foundation
import TesseraJOSE
import Testing

@Suite struct Base64Tests {
    @Test(
        arguments: [
            ("", [UInt8]()), ("QQ==", [65]), ("QUI=", [65, 66]), ("QUJD", [65, 66, 67]), ("dXNlcjpwYXNz", Array("user:pass".utf8)),
            ("+/+/", [251, 255, 191]), ("AAAA", [0, 0, 0]),
            // Unused trailing bits are ignored, as Foundation ignores them.
            ("QR==", [65]), ("QUJ=", [65, 66]),
        ] as [(String, [UInt8])])
    func decodesPaddedBase64(text: String, bytes: [UInt8]) {
        #expect(Base64.decode(Array(text.utf8)) == bytes)
    }

    @Test(arguments: [
        "QQ=", "QQ", "A", "Q===", "====", "=QQQ", "QU=D", "QQ==QQ==", "QUJD=", "QUJD====", "QU JD", "QUJD\n", "QUJD-_", "QUJ\u{00E9}",
    ])
    func refusesAnythingElse(text: String) {
        #expect(Base64.decode(Array(text.utf8)) == nil)
    }

    @Test func roundTripsFoundationsEncodingAndNeverDecodesOtherwiseThanFoundation() {
        for length in 0..<64 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Array(Data(bytes).base64EncodedString().utf8)) == bytes)
        }
        // Stricter than Foundation (which takes "====" or "QU=D"), never different.
        var generator = SystemRandomNumberGenerator()
        let characters = Array("ABCXYZabcxyz0189+/=- _".utf8)
        for _ in 0..<5_000 {
            let bytes = (0..<Int.random(in: 0...12, using: &generator)).map { _ in characters.randomElement(using: &generator)! }
            if let decoded = Base64.decode(bytes) {
                #expect(Data(base64Encoded: String(decoding: bytes, as: UTF8.self)).map(Array.init) == decoded)
            }
        }
    }
}
