import Foundation
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

@Suite struct RequestIDTests {
    @Test func newIDsAre26CharactersAndDistinct() {
        let requestIDs = RequestIDs(dependencies: .live)
        let ids = (0..<1_000).map { _ in requestIDs.newID() }
        #expect(Set(ids).count == 1_000)
        #expect(ids.allSatisfy { $0.count == 26 && RequestIDs.isSafe($0) })
        // Another server draws another prefix.
        let other = RequestIDs(dependencies: .live)
        #expect(other.newID().prefix(12) != ids[0].prefix(12))
    }
}

@Suite struct LogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func writesStreamLogHandlersFormatWithMetadataSortedAtLogTime() {
        let lines = Lines()
        var logger = Logger(label: "tessera") { label in
            TesseraLogHandler(label: label, level: .info) { line in lines.lines.withLock { $0.append(line) } }
        }
        logger[metadataKey: "request_id"] = "r-1"
        logger[metadataKey: "a"] = "first"
        logger.debug("below the level")
        logger.info("served", metadata: ["status": "200"])
        logger[metadataKey: "a"] = nil
        logger.warning("plain")

        let written = lines.all
        #expect(written.count == 2)
        let first: String? = written.first
        #expect(first?.hasSuffix(" info tessera: a=first request_id=r-1 status=200 [TesseraServerTests] served\n") == true)
        #expect(written.last?.hasSuffix(" warning tessera: request_id=r-1 [TesseraServerTests] plain\n") == true)
        // An ISO 8601 UTC timestamp first, as 2026-11-23T19:50:48Z.
        #expect(first?.prefix(20).last == "Z")
        #expect(first?.dropFirst(4).first == "-")
    }
}

@Suite struct Base64Tests {
    @Test(arguments: [
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
