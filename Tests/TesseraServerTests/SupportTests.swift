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

@Suite struct HTTPFieldValueTests {
    @Test func readsAFieldAsTheSubscriptDoes() {
        var fields: HTTPFields = [.contentType: "application/json", HTTPField.Name("authorization")!: "Basic abc"]
        #expect(fields.value(of: .authorization) == "Basic abc")
        #expect(fields.value(of: .contentType) == "application/json")
        #expect(fields.value(of: .contentLength) == nil)
        // Twice: joined, as HTTPFields' own subscript joins them.
        fields.append(HTTPField(name: .authorization, value: "Basic def"))
        #expect(fields.value(of: .authorization) == "Basic abc, Basic def")
        #expect(fields.value(of: .authorization) == fields[.authorization])
    }
}
