import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import TesseraVerifier

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Obtain an access token with the client-credentials grant and print the token response.",
        discussion: "Finds the token endpoint through the issuer's RFC 8414 metadata, then POSTs grant_type=client_credentials."
    )

    @Option(help: "Issuer URL, e.g. http://127.0.0.1:8080.")
    var issuer: String

    @Option(name: .customLong("client-id"), help: "The service account's client id.")
    var clientID: String

    @Option(name: .customLong("client-secret"), help: "The secret (or env TESSERA_CLIENT_SECRET, which keeps it out of the process list).")
    var clientSecret: String?

    @Option(help: "Space-separated scopes to request (default: every scope the account's roles allow).")
    var scope: String?

    @Option(help: "Audience to request (RFC 8707 resource).")
    var audience: String?

    @Option(name: .customLong("auth-method"), help: "client_secret_basic (default) or client_secret_post.")
    var authMethod: String = "client_secret_basic"

    func validate() throws {
        guard ["client_secret_basic", "client_secret_post"].contains(authMethod) else {
            throw ValidationError("--auth-method must be client_secret_basic or client_secret_post")
        }
        guard clientSecret ?? Env.value("TESSERA_CLIENT_SECRET") != nil else {
            throw ValidationError("give --client-secret or set TESSERA_CLIENT_SECRET")
        }
    }

    func run() async throws {
        let secret = clientSecret ?? Env.value("TESSERA_CLIENT_SECRET") ?? ""
        let base = TokenVerifier.normalizeIssuer(issuer)
        let tokenEndpoint = try await discoverTokenEndpoint(base) ?? base + "/oauth2/token"

        var form = ["grant_type": "client_credentials"]
        if let scope { form["scope"] = scope }
        if let audience { form["resource"] = audience }
        var request = HTTPClientRequest(url: tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        if authMethod == "client_secret_basic" {
            let credentials = FormURLEncoding.encode(clientID) + ":" + FormURLEncoding.encode(secret)
            request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        } else {
            form["client_id"] = clientID
            form["client_secret"] = secret
        }
        let body = form.sorted { $0.key < $1.key }.map { FormURLEncoding.encode($0.key) + "=" + FormURLEncoding.encode($0.value) }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        print(text)
        guard response.status == .ok else { throw ExitCode.failure }
    }

    private func discoverTokenEndpoint(_ issuer: String) async throws -> String? {
        let request = HTTPClientRequest(url: issuer + "/.well-known/oauth-authorization-server")
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(10)), response.status == .ok else { return nil }
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        return object?["token_endpoint"] as? String
    }
}
