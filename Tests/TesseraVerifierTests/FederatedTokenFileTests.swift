import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import TesseraServer
import TesseraVerifier
import Testing

/// `TokenSource` with a federated token file against a real issuer: the file is read
/// on every request, so a token the platform rewrites keeps it working.
@Suite struct FederatedTokenFileTests {
    @Test func aRewrittenTokenFileKeepsTheSourceWorking() async throws {
        let port = try freePort()
        let issuer = "http://127.0.0.1:\(port)"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-federated-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tessera = Tessera(
            issuer: issuer, storage: try SQLiteStorage(path: directory.appendingPathComponent("db.sqlite").path), masterKey: .generate()
        )
        try await tessera.start(signingAlgorithm: .es256)
        let credentials = try await Bootstrap(tenants: tessera.tenants, accounts: tessera.accounts).run(tenantSlug: "acme", role: "analyst")
        let tenant = try #require(try await tessera.storage.tenant(slug: "acme"))
        let cluster = try SigningKey.generate(.es256)
        let jwks = String(decoding: try JSONEncoder().encode(JWKSet(keys: [cluster.publicJWK])), as: UTF8.self)
        _ = try await tessera.federatedCredentials.add(
            for: try #require(UUID(uuidString: credentials.serviceAccountID)), in: tenant,
            NewFederatedCredential(name: "pod", issuer: "https://cluster.example", subject: "system:serviceaccount:shop:orders", jwks: jwks),
            by: .bootstrap)
        let file = directory.appendingPathComponent("token").path
        func project() throws {
            let now = Int64(Date().timeIntervalSince1970)
            let claims = #"""
                {"iss":"https://cluster.example","sub":"system:serviceaccount:shop:orders","aud":["\#(issuer)"],"exp":\#(now + 600),"iat":\#(now),"jti":"\#(UUID().uuidString)"}
                """#
            try (try JWS.sign(payload: Array(claims.utf8), with: cluster, type: "JWT") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        }
        try project()
        let app = try TesseraHTTP.application(tessera: tessera, configuration: .init(host: "127.0.0.1", port: port), logger: Logger(label: "live-test"))
        try await serving(app) {
            try await waitUntilServing(port: port)
            let source = TokenSource(issuer: issuer, clientID: credentials.clientID, credentials: .federatedTokenFile(file))
            let first = try await source.token()
            let verifier = TokenVerifier(issuer: issuer, audience: issuer)
            #expect(try await verifier.verify(first).clientID == credentials.clientID)
            // The same projected token again is a replay of its jti, refused.
            await source.invalidate()
            let replay = await #expect(throws: TokenSource.Failure.self) { try await source.token() }
            #expect(replay?.error == "invalid_client")
            // The platform rewrites the file; the next request reads the new token.
            try project()
            let second = try await source.token()
            #expect(second != first)
            #expect(try await verifier.verify(second).subject == credentials.serviceAccountID)
        }
    }
}
