import Foundation
import Testing

@testable import TesseraServer

@Suite struct HTTPDateTests {
    /// RFC 9110 §5.6.7's own example, and the epoch.
    @Test func formatsIMFFixdate() {
        #expect(HTTPDateCache.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDateCache.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDateCache.format(4_102_444_799) == "Thu, 31 Dec 2099 23:59:59 GMT")
    }

    /// Every field against Foundation's formatter, over times spread across a century.
    @Test func agreesWithFoundation() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let seconds = Int.random(in: 0..<4_102_444_800, using: &generator)
            #expect(HTTPDateCache.format(seconds) == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))))
        }
    }

    /// The cached value is the current second's.
    @Test func currentIsNow() {
        let cache = HTTPDateCache()
        let before = Int(Date().timeIntervalSince1970)
        let text = cache.current
        let after = Int(Date().timeIntervalSince1970)
        #expect(text == HTTPDateCache.format(before) || text == HTTPDateCache.format(after))
    }
}
