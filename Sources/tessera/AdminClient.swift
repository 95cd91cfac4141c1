import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import TesseraVerifier

/// A failure the CLI reports in words: a usage error (exit 64) or a refusal by the
/// server (exit 1), never a stack trace.
enum CLIError: Error {
    case usage(String)
    case refused(String)

    /// Prints the message on stderr and exits with the matching status.
    func exit() -> ExitCode {
        switch self {
        case .usage(let message):
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            return ExitCode(64)
        case .refused(let message):
            FileHandle.standardError.write(Data((message + "\n").utf8))
            return ExitCode.failure
        }
    }
}

/// The admin API over HTTP with one bearer credential.
struct AdminClient {
    enum Method: String {
        case GET, POST, PUT, PATCH, DELETE
    }

    let base: String
    let bearer: String
    let tenantOption: String?

    struct Answer {
        let status: Int
        let body: [UInt8]
    }

    static func send(method: Method, url: String, headers: [(String, String)], body: [UInt8]?) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method.rawValue)
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 16 << 20)
            return Answer(status: Int(response.status.code), body: Array(bytes.readableBytesView))
        } catch {
            throw CLIError.refused("error: cannot reach \(url): \(error)")
        }
    }

    /// The tenant path segment: the option, else the caller's own tenant.
    func tenant() async throws -> String {
        if let tenantOption { return pathSegment(tenantOption) }
        let whoami = try await object(.GET, "/v1/whoami")
        guard let tenant = whoami["tenant"] as? [String: Any], let slug = tenant["slug"] as? String else {
            throw CLIError.refused("error: /v1/whoami named no tenant")
        }
        return pathSegment(slug)
    }

    /// Calls `path` with an optional JSON body; a refusal becomes ``CLIError/refused(_:)``
    /// with the problem's status, detail and field.
    func call(_ method: Method, _ path: String, json: [String: Any]? = nil) async throws -> [UInt8] {
        var headers = [("Authorization", "Bearer \(bearer)")]
        var body: [UInt8]?
        if let json {
            headers.append(("Content-Type", "application/json"))
            body = Array(try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes]))
        }
        let answer = try await Self.send(method: method, url: base + path, headers: headers, body: body)
        guard (200..<300).contains(answer.status) else {
            let problem = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
            let detail = problem?["detail"] as? String ?? String(decoding: answer.body.prefix(500), as: UTF8.self)
            var message = "error: \(answer.status) \(Output.printable(detail))"
            if let field = problem?["field"] as? String { message += " (field: \(Output.printable(field)))" }
            throw CLIError.refused(message)
        }
        return answer.body
    }

    func object(_ method: Method, _ path: String, json: [String: Any]? = nil) async throws -> [String: Any] {
        let body = try await call(method, path, json: json)
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw CLIError.refused("error: the server's answer to \(path) is not a JSON object")
        }
        return object
    }

    /// Every item of a list, page after page, up to `limit` items.
    func items(_ path: String, query: [(String, String?)], limit: Int?) async throws -> [[String: Any]] {
        var collected: [[String: Any]] = []
        var cursor: String?
        repeat {
            let pageSize = min(200, limit.map { $0 - collected.count } ?? 200)
            var parameters = query.compactMap { name, value in value.map { (name, $0) } }
            parameters.append(("limit", String(pageSize)))
            if let cursor { parameters.append(("cursor", cursor)) }
            let text = parameters.map { "\(FormURLEncoding.encode($0.0))=\(FormURLEncoding.encode($0.1))" }.joined(separator: "&")
            let page = try await object(.GET, path + "?" + text)
            collected += page["items"] as? [[String: Any]] ?? []
            cursor = page["next_cursor"] as? String
        } while cursor != nil && (limit.map { collected.count < $0 } ?? true)
        return collected
    }
}
