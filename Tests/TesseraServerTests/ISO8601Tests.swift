import Foundation
import Testing

@testable import TesseraServer

/// The admin API's timestamps are written by ``ISO8601/string(_:)`` without
/// Foundation's formatter on the common path; Foundation's `.iso8601` format style
/// is the reference it must equal.
@Suite struct ISO8601Tests {
    @Test func equalsFoundationsFormatFromYearOneToYear9999() {
        var generator = SystemRandomNumberGenerator()
        let edges: [TimeInterval] = [
            0, -1, 1, -0.5, 0.999_999, 86_399.999, 86_400, 951_782_400 /* 2000-02-29 */, 4_107_542_400 /* 2100-02-28 */,
            -62_135_596_800 /* 0001-01-01 */, -12_219_292_800 /* 1582-10-15 */, -12_212_553_600 /* 1583-01-01 */,
            -12_212_553_601, 253_402_300_799.9 /* 9999-12-31T23:59:59.9 */, 1_800_000_000.5,
        ]
        let random = (0..<20_000).map { _ in TimeInterval.random(in: -62_135_596_800..<253_402_300_800, using: &generator) }
        let whole = (0..<5_000).map { _ in TimeInterval(Int64.random(in: -62_135_596_800..<253_402_300_800, using: &generator)) }
        for seconds in edges + random + whole {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(ISO8601.string(date) == date.formatted(.iso8601), "\(seconds)")
        }
    }

    @Test func datesOutsideFourDigitYearsStillFormatAsFoundationDoes() {
        for seconds: TimeInterval in [-62_135_596_801, 253_402_300_800, -1e12, 1e12] {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(ISO8601.string(date) == date.formatted(.iso8601))
        }
    }

    @Test func readsWhatItWrites() {
        let date = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(ISO8601.string(date) == "2027-01-15T08:00:00Z")
        #expect(ISO8601.date(ISO8601.string(date)) == date)
    }
}
