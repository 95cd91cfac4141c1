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
