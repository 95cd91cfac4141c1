import Foundation
import Hummingbird

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
        var headers = extra
        headers[.contentType] = contentType
        if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
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
    static func string(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    static func date(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
