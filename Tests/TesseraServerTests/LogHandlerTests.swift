import HTTPTypes
import Logging
import Synchronization
import Testing

@testable import TesseraServer

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
