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

/// The verifier against a real Tessera issuer running in this process.
@Suite struct LiveIssuerTests {
    @Test(arguments: [JWSAlgorithm.es256, .eddsa, .rs256, .ps256])
    func tokenFromTheTokenEndpointVerifies(_ algorithm: JWSAlgorithm) async throws {
        let port = try freePort()
        let issuer = "http://127.0.0.1:\(port)"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-live-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tessera = Tessera(
            issuer: issuer, storage: try SQLiteStorage(path: directory.appendingPathComponent("db.sqlite").path), masterKey: .generate()
        )
        try await tessera.start(signingAlgorithm: algorithm)
        let credentials = try await Bootstrap(tenants: tessera.tenants, accounts: tessera.accounts).run(tenantSlug: "acme", role: "analyst")
        let app = try TesseraHTTP.application(
            tessera: tessera, configuration: .init(host: "127.0.0.1", port: port), logger: Logger(label: "live-test")
        )
        try await serving(app) {
            try await waitUntilServing(port: port)
            var request = HTTPClientRequest(url: issuer + "/oauth2/token")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(
                ByteBuffer(
                    string:
                        "grant_type=client_credentials&client_id=\(credentials.clientID)&client_secret=\(credentials.clientSecret)"))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(response.status == .ok)
            let body = try await response.body.collect(upTo: 1 << 16)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])
            let token = try #require(object["access_token"] as? String)

            let verifier = TokenVerifier(issuer: issuer, audience: issuer)
            let verified = try await verifier.verify(token)
            #expect(verified.clientID == credentials.clientID)
            #expect(verified.subject == credentials.serviceAccountID)
            #expect(verified.tenant == credentials.tenantID)
            #expect(verified.scopes == ["api:read"])
            #expect(try CompactJWS(token).header.alg == algorithm.rawValue)

            let wrongAudience = TokenVerifier(issuer: issuer, audience: "https://elsewhere.example")
            let error = await #expect(throws: TokenVerificationError.self) { try await wrongAudience.verify(token) }
            #expect(error?.code == .wrongAudience)
        }
    }
}
