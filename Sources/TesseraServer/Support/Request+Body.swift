import Hummingbird
import NIOCore

/// The body was larger than the route accepts.
struct BodyTooLarge: Error, CustomStringConvertible {
    let limit: Int
    var description: String { "the body exceeds \(limit) bytes" }
}

extension Request {
    /// Collects the body, refusing more than `limit` bytes with ``BodyTooLarge``
    /// however the excess shows: a `Content-Length` over the limit, or a chunked
    /// body that grows past it (NIO's `NIOTooManyBytesError`, or Hummingbird's
    /// 413 `HTTPError`, depending on how the body is streamed).
    func collectBody(upTo limit: Int) async throws -> [UInt8] {
        if let length = headers.value(of: .contentLength).flatMap(Int.init), length > limit { throw BodyTooLarge(limit: limit) }
        do {
            let buffer = try await body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw BodyTooLarge(limit: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw BodyTooLarge(limit: limit)
        }
    }
}
