import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import TesseraVerifier

/// Where and as whom `tessera accounts|secrets|roles|audit` call a running server's
/// admin API (docs/admin-api.md). Secrets come from the environment or a file, never
/// from an argument, which `ps` would show to every user of the machine.
struct RemoteOptions: ParsableArguments {
    @Option(help: "The server's base URL (env TESSERA_URL; default http://127.0.0.1:8080).")
    var url: String?

    @Option(help: "The tenant, by slug or id (env TESSERA_TENANT; default the caller's own).")
    var tenant: String?

    @Option(
        name: .customLong("credentials"),
        help: ArgumentHelp(
            "A JSON file with client_id and client_secret, as `tessera bootstrap --json` prints (env TESSERA_CREDENTIALS).",
            discussion: "Used when neither TESSERA_TOKEN nor TESSERA_CLIENT_ID and TESSERA_CLIENT_SECRET are set."
        )
    )
    var credentialsFile: String?

    @Flag(help: "Print the API's JSON instead of text.")
    var json = false

    func validate() throws {
        if let text = url ?? Env.value("TESSERA_URL") {
            guard let parsed = URL(string: text), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
                throw ValidationError("--url must be an absolute http or https URL")
            }
        }
    }

    var baseURL: String { TokenVerifier.normalizeIssuer(url ?? Env.value("TESSERA_URL") ?? "http://127.0.0.1:8080") }

    /// A client for the admin API, with a bearer credential from `TESSERA_TOKEN`, or
    /// one obtained with the client credentials from the environment or the file.
    func client() async throws -> AdminClient {
        let base = baseURL
        if let token = Env.value("TESSERA_TOKEN"), !token.isEmpty {
            return AdminClient(base: base, bearer: token, tenantOption: tenant ?? Env.value("TESSERA_TENANT"))
        }
        let id: String
        let secret: String
        if let envID = Env.value("TESSERA_CLIENT_ID"), let envSecret = Env.value("TESSERA_CLIENT_SECRET") {
            (id, secret) = (envID, envSecret)
        } else if let path = credentialsFile ?? Env.value("TESSERA_CREDENTIALS") {
            guard let data = FileManager.default.contents(atPath: path) else { throw CLIError.usage("cannot read the credentials file \(path)") }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let fileID = object["client_id"] as? String,
                let fileSecret = object["client_secret"] as? String
            else {
                throw CLIError.usage("the credentials file \(path) must be a JSON object with client_id and client_secret")
            }
            (id, secret) = (fileID, fileSecret)
        } else {
            throw CLIError.usage(
                "no credentials: set TESSERA_TOKEN, or TESSERA_CLIENT_ID and TESSERA_CLIENT_SECRET, or give --credentials FILE (TESSERA_CREDENTIALS)"
            )
        }
        // The token is for the admin API, whose audience is the issuer, whatever the
        // tenant's default audience: the issuer comes from the server's metadata.
        let metadata = try await AdminClient.send(method: .GET, url: base + "/.well-known/oauth-authorization-server", headers: [], body: nil)
        let issuer = (try? JSONSerialization.jsonObject(with: Data(metadata.body)) as? [String: Any])?["issuer"] as? String ?? base
        let form =
            "grant_type=client_credentials&client_id=\(FormURLEncoding.encode(id))&client_secret=\(FormURLEncoding.encode(secret))"
            + "&resource=\(FormURLEncoding.encode(issuer))"
        let answer = try await AdminClient.send(
            method: .POST, url: base + "/oauth2/token", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(form.utf8))
        guard answer.status == 200, let object = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any],
            let token = object["access_token"] as? String
        else {
            let object = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
            let reason = (object?["error_description"] as? String) ?? (object?["error"] as? String) ?? "no access token"
            throw CLIError.refused("error: \(answer.status) the token endpoint refused the credentials: \(reason)")
        }
        return AdminClient(base: base, bearer: token, tenantOption: tenant ?? Env.value("TESSERA_TENANT"))
    }
}

/// `text` as one URL path segment: every character but RFC 3986's unreserved ones
/// percent-encoded (a space is `%20` here, not the `+` of a form).
func pathSegment(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
    allowed.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}

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

/// Output of the admin commands: the API's JSON with `--json`, else a line per item.
enum Output {
    static func json(_ value: Any) throws {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }

    static func raw(_ bytes: [UInt8]) {
        print(String(decoding: bytes, as: UTF8.self))
    }

    /// `key: value` lines of an object, in `keys` order, skipping absent ones.
    static func fields(_ object: [String: Any], _ keys: [String]) {
        for key in keys {
            guard let value = object[key], !(value is NSNull) else { continue }
            print("\(key): \(text(value))")
        }
    }

    static func text(_ value: Any) -> String {
        switch value {
        case let strings as [String]: printable(strings.joined(separator: ", "))
        case is NSNull: "-"
        case let other: printable("\(other)")
        }
    }

    /// `text` with control characters (C0, DEL, C1, among them ESC) written as
    /// `\u{…}`, so that what another administrator stored cannot drive the terminal.
    static func printable(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                result += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// One line per item: the values of `keys`, separated by two spaces.
    static func lines(_ items: [[String: Any]], _ keys: [String]) {
        for item in items {
            print(keys.map { item[$0].map(text) ?? "-" }.joined(separator: "  "))
        }
    }
}
