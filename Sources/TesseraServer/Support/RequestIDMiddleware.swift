import HTTPTypes
import Hummingbird
import TesseraCore

/// Gives every response an `X-Request-ID`: the caller's when it is safe to echo
/// (1–128 characters of `A-Z a-z 0-9 . _ -`), else a new random one.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    static var headerName: HTTPField.Name { .requestID }

    let dependencies: Dependencies

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id: String
        if let given = request.headers[Self.headerName], Self.isSafe(given) {
            id = given
        } else {
            id = Crockford32.encode(dependencies.randomBytes(16)).lowercased()
        }
        var context = context
        context.logger[metadataKey: "request_id"] = "\(id)"
        var response = try await next(request, context)
        response.headers[Self.headerName] = id
        return response
    }

    static func isSafe(_ value: String) -> Bool {
        let bytes = value.utf8
        return (1...128).contains(bytes.count) && bytes.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}

/// Turns any error that escaped a handler into a response that leaks nothing:
/// Hummingbird's own HTTP errors keep their status; anything else is a 500
/// problem without detail, logged with the request id.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let detail = error.status == .notFound ? "no route for \(request.method.rawValue) \(request.uri.path)" : error.status.reasonPhrase
            return Problem(error.status, detail).response
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return Problem(.internalServerError, "internal error").response
        }
    }
}
