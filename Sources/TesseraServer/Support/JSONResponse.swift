import Foundation
import Hummingbird
import TesseraJOSE

extension Response {
    /// A JSON response from an `Encodable` value, with `Cache-Control: no-store`
    /// unless other headers are given.
    static func json(
        _ value: some Encodable, status: HTTPResponse.Status = .ok,
        contentType: String = "application/json", headers extra: HTTPFields = [:]
    ) -> Response {
        let data: Data
        do {
            data = try JSONCoding.encoder.encode(value)
        } catch {
            // Encoding our own response types cannot fail; answer plainly if it ever does.
            return Response(status: .internalServerError)
        }
        return Response(status: status, headers: jsonHeaders(extra, contentType), body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `extra` with the content type, and `Cache-Control: no-store` unless `extra` sets it.
    private static func jsonHeaders(_ extra: HTTPFields, _ contentType: String) -> HTTPFields {
        var headers = extra
        headers[.contentType] = contentType
        if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
        return headers
    }
}

/// A response type that also writes itself through ``JSONOutput``, for the answers
/// whose encoding would otherwise dominate their cost (a page of fifty accounts spent
/// about 40 % of its CPU in `JSONEncoder`). What it writes must be byte for byte what
/// ``JSONCoding/encoder`` writes of the same value: members in sorted order, `null`
/// where the `Encodable` form writes one, dates through ``ISO8601/string(_:)``.
protocol JSONWritable: Encodable {
    func write(into json: inout JSONOutput)
    /// Bytes to reserve for the document, so that it is not copied as it grows.
    var jsonCapacity: Int { get }
}

extension JSONWritable {
    var jsonCapacity: Int { 1_024 }
}

extension Response {
    /// A JSON response written by the value itself (``JSONWritable``), with the same
    /// headers as the `Encodable` form above.
    static func json(
        _ value: some JSONWritable, status: HTTPResponse.Status = .ok,
        contentType: String = "application/json", headers extra: HTTPFields = [:]
    ) -> Response {
        var json = JSONOutput(capacity: value.jsonCapacity)
        value.write(into: &json)
        return Response(status: status, headers: jsonHeaders(extra, contentType), body: ResponseBody(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}

/// Shared JSON coders: ISO 8601 dates, unescaped slashes, stable key order.
enum JSONCoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISO8601.string(date))
        }
        return encoder
    }()
}

/// RFC 3339 timestamps in UTC, as the admin API reads and writes them.
enum ISO8601 {
    /// Whole seconds, `YYYY-MM-DDTHH:MM:SSZ`, as Foundation's `.iso8601` format
    /// style writes them. The years 1583–9999 are worked out here (days to a
    /// Gregorian date), much faster than the format style, which a page of
    /// accounts calls a hundred times; other dates go to the format style (which
    /// counts Julian dates before the Gregorian calendar began in 1582).
    static func string(_ date: Date) -> String {
        guard let fields = Fields(date) else { return date.formatted(.iso8601) }
        return String(unsafeUninitializedCapacity: 20) { buffer in
            fields.put(into: buffer)
            return 20
        }
    }

    /// `name: "<date>"` in `json`, as ``string(_:)`` writes the date, without making a
    /// `String` of it when the date is in 1583–9999.
    static func write(_ date: Date, as name: StaticString, into json: inout JSONOutput) {
        guard let fields = Fields(date) else { return json.member(name, date.formatted(.iso8601)) }
        json.member(name, unescapedCount: 20) { fields.put(into: $0) }
    }

    /// A date's calendar fields, for the years 1583–9999.
    private struct Fields {
        let year: Int64, month: Int64, day: Int64, time: Int64

        init?(_ date: Date) {
            let interval = date.timeIntervalSince1970
            guard interval >= -12_212_553_600, interval < 253_402_300_800 else { return nil }
            let seconds = Int64(interval.rounded(.down))
            let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
            time = seconds - days * 86_400
            // Days since 0000-03-01, in eras of 400 years (146,097 days) that start on
            // a March 1st, so a leap day ends each year that has one.
            let shifted = days + 719_468
            let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
            let dayOfEra = shifted - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let monthFromMarch = (5 * dayOfYear + 2) / 153
            day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
            month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
            year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        }

        /// `YYYY-MM-DDTHH:MM:SSZ` in the 20 bytes of `buffer`.
        func put(into buffer: UnsafeMutableBufferPointer<UInt8>) {
            func put(_ value: Int64, digits: Int, at offset: Int) {
                var value = value
                for index in stride(from: offset + digits - 1, through: offset, by: -1) {
                    buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, digits: 4, at: 0)
            put(month, digits: 2, at: 5)
            put(day, digits: 2, at: 8)
            put(time / 3_600, digits: 2, at: 11)
            put(time / 60 % 60, digits: 2, at: 14)
            put(time % 60, digits: 2, at: 17)
            (buffer[4], buffer[7], buffer[10]) = (UInt8(ascii: "-"), UInt8(ascii: "-"), UInt8(ascii: "T"))
            (buffer[13], buffer[16], buffer[19]) = (UInt8(ascii: ":"), UInt8(ascii: ":"), UInt8(ascii: "Z"))
        }
    }

    static func date(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
