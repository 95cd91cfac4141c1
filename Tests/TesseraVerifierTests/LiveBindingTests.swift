import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import TesseraServer
import TesseraVerifier
import TesseraVerifierHummingbird
import Testing

/// DPoP the whole way with a real Tessera in this process, nonces on: `TokenSource`
/// gets a DPoP-bound token (answering `use_dpop_nonce` once), and a resource server
/// takes it with a proof, offline and through introspection (whose answer carries `cnf`).
@Suite struct LiveBindingTests {
    @Test func aDPoPTokenFromTesseraPassesTheMiddlewareOnlyWithItsProof() async throws {
        let port = try freePort()
        let issuer = "http://127.0.0.1:\(port)"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-binding-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tessera = Tessera(
            issuer: issuer, storage: try SQLiteStorage(path: directory.appendingPathComponent("db.sqlite").path), masterKey: .generate(),
            dpopNonces: true)
        try await tessera.start(signingAlgorithm: .es256)
        let bootstrap = Bootstrap(tenants: tessera.tenants, accounts: tessera.accounts)
        let admin = try await bootstrap.run(tenantSlug: "acme", role: "admin")
        let worker = try await bootstrap.run(tenantSlug: "acme", role: "member")
        let app = try TesseraHTTP.application(tessera: tessera, configuration: .init(host: "127.0.0.1", port: port), logger: Logger(label: "binding"))
        try await serving(app) {
            try await waitUntilServing(port: port)
            let key = try SigningKey.generate(.es256)
            let source = TokenSource(issuer: issuer, clientID: worker.clientID, credentials: .secret(worker.clientSecret), dpopKey: key)
            let token = try await source.currentToken()
            #expect(token.tokenType == "DPoP")

            var configuration = IntrospectionClient.Configuration()
            configuration.timeout = 10
            let introspection = IntrospectionClient(
                endpoint: issuer + "/oauth2/introspect", clientID: admin.clientID, secret: admin.clientSecret, configuration: configuration)
            let router = Router(context: AppContext.self)
            for (path, mode) in [("offline", TokenVerifier.Mode.offline), ("online", .online(introspection))] {
                router.group(RouterPath(path))
                    .add(
                        middleware: BearerTokenMiddleware(
                            verifier: TokenVerifier(issuer: issuer, audience: issuer, mode: mode), publicBaseURL: "https://orders.example")
                    )
                    .get { _, context in "\(context.verifiedToken?.cnf?.jkt ?? "unbound")" }
            }
            let jkt = try key.publicJWK.thumbprint()
            try await Application(router: router).test(.router) { client in
                for path in ["offline", "online"] {
                    var request = HTTPClientRequest(url: "https://orders.example/\(path)")
                    try await source.authorize(&request)
                    var headers = HTTPFields()
                    headers[.authorization] = request.headers["Authorization"].first
                    headers[values: HTTPFields.Element.Name("DPoP")!] = request.headers["DPoP"]
                    let accepted = try await client.execute(uri: "/\(path)", method: .get, headers: headers)
                    #expect(accepted.status == .ok, "\(path)")
                    #expect(String(buffer: accepted.body) == jkt, "\(path)")
                    // The same proof again, and the token as Bearer, are refused.
                    let replayed = try await client.execute(uri: "/\(path)", method: .get, headers: headers)
                    #expect(replayed.status == .unauthorized)
                    #expect(replayed.headers[values: .wwwAuthenticate].first?.hasPrefix(#"DPoP realm="api", error="invalid_dpop_proof""#) == true)
                    let bearer = try await client.execute(uri: "/\(path)", method: .get, headers: [.authorization: "Bearer " + token.accessToken])
                    #expect(bearer.status == .unauthorized)
                    #expect(bearer.headers[values: .wwwAuthenticate].first?.hasPrefix(#"DPoP realm="api", error="invalid_token""#) == true)
                }
            }
        }
    }
}
