import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraJOSE
import TesseraVerifier
import TesseraVerifierHummingbird
import Testing

struct AppContext: VerifiedTokenRequestContext {
    var coreContext: CoreRequestContextStorage
    var verifiedToken: VerifiedToken?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

@Suite struct MiddlewareTests {
    static let issuer = "https://issuer.example"
    let key: SigningKey
    let app: Application<RouterResponder<AppContext>>

    init() throws {
        let key = try SigningKey.generate(.es256)
        self.key = key
        let verifier = TokenVerifier(issuer: Self.issuer, audience: "https://api.example", keys: JWKSet(keys: [key.publicJWK]))
        let router = Router(context: AppContext.self)
        let orders = router.group("orders")
            .add(middleware: BearerTokenMiddleware(verifier: verifier))
            .add(middleware: RequireScopes("orders:read"))
        orders.get { _, context in "hello \(context.verifiedToken?.clientID ?? "?")" }
        router.group("acme")
            .add(middleware: BearerTokenMiddleware(verifier: verifier))
            .add(middleware: RequireTenant("7c1d1c1e-0000-4000-8000-000000000002"))
            .get { _, _ in "tenant ok" }
        app = Application(router: router)
    }

    func get(_ path: String, authorization: String?) async throws -> (HTTPResponse.Status, String?, String) {
        try await app.test(.router) { client in
            let headers: HTTPFields = authorization.map { [.authorization: $0] } ?? [:]
            let response = try await client.execute(uri: path, method: .get, headers: headers)
            return (response.status, response.headers[.wwwAuthenticate], String(buffer: response.body))
        }
    }

    @Test func validTokenWithTheScopePassesAndIsOnTheContext() async throws {
        let token = try accessToken(key, issuer: Self.issuer, scope: "orders:read")
        let (status, challenge, body) = try await get("/orders", authorization: "Bearer \(token)")
        #expect(status == .ok)
        #expect(challenge == nil)
        #expect(body == "hello tsc_client")
    }

    /// Bare challenges for both schemes the middleware takes (docs/binding.md), the
    /// Bearer one first: a client that reads only the first field sees what it did before.
    @Test func missingOrOtherSchemeIs401WithBareChallenges() async throws {
        for header in [nil, "Basic abc"] as [String?] {
            let challenges = try await app.test(.router) { client in
                let headers: HTTPFields = header.map { [.authorization: $0] } ?? [:]
                let response = try await client.execute(uri: "/orders", method: .get, headers: headers)
                #expect(response.status == .unauthorized)
                return response.headers[values: .wwwAuthenticate]
            }
            #expect(challenges == [#"Bearer realm="api""#, #"DPoP realm="api", algs="ES256 EdDSA RS256 PS256""#])
        }
    }

    @Test func malformedHeaderIs400InvalidRequest() async throws {
        for header in ["Bearer", "Bearer a b", "Bearer a\"b", "Bearer =abc"] {
            let (status, challenge, _) = try await get("/orders", authorization: header)
            #expect(status == .badRequest, "\(header)")
            #expect(challenge == #"Bearer realm="api", error="invalid_request", error_description="the Authorization header is malformed""#)
        }
    }

    @Test func invalidTokensAre401InvalidTokenWithoutDetail() async throws {
        let stranger = try SigningKey.generate(.es256)
        let expired = try accessToken(key, issuer: Self.issuer, iat: Date(timeIntervalSinceNow: -7200))
        for token in ["abc.def.ghi", try accessToken(stranger, issuer: Self.issuer), expired, try accessToken(key, issuer: "https://evil.example")] {
            let (status, challenge, body) = try await get("/orders", authorization: "Bearer \(token)")
            #expect(status == .unauthorized)
            #expect(challenge == #"Bearer realm="api", error="invalid_token", error_description="the access token is invalid or expired""#)
            #expect(body == #"{"error":"invalid_token","error_description":"the access token is invalid or expired"}"#)
        }
    }

    @Test func missingScopeIs403InsufficientScopeNamingIt() async throws {
        let token = try accessToken(key, issuer: Self.issuer, scope: "orders:write")
        let (status, challenge, _) = try await get("/orders", authorization: "Bearer \(token)")
        #expect(status == .forbidden)
        #expect(
            challenge == #"Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="orders:read""#)
    }

    @Test func tenantGuard() async throws {
        let token = try accessToken(key, issuer: Self.issuer)
        #expect(try await get("/acme", authorization: "Bearer \(token)").0 == .ok)
        let foreign = try JWS.sign(
            payload: Array(
                #"{"iss":"\#(Self.issuer)","sub":"s","aud":"https://api.example","exp":\#(Int(Date().timeIntervalSince1970) + 60),"iat":\#(Int(Date().timeIntervalSince1970)),"jti":"j","client_id":"c","scope":"","tenant":"another","roles":[]}"#
                    .utf8),
            with: key, type: "at+jwt"
        )
        let (status, challenge, _) = try await get("/acme", authorization: "Bearer \(foreign)")
        #expect(status == .forbidden)
        #expect(challenge == #"Bearer realm="api", error="insufficient_scope", error_description="the access token is for another tenant""#)
    }
}
