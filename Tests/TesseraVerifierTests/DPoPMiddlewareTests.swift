import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraJOSE
import TesseraVerifier
import TesseraVerifierHummingbird
import Testing

/// The middleware with DPoP-bound and certificate-bound tokens, through Hummingbird's
/// router test client (whose requests carry `Host: localhost`): exact statuses and
/// challenges, as docs/binding.md says them.
@Suite struct DPoPMiddlewareTests {
    static let issuer = "https://issuer.example"
    static let algs = #"algs="ES256 EdDSA RS256 PS256""#
    static let dpop = HTTPFields.Element.Name("DPoP")!
    /// Where the test's "TLS terminator" puts the client certificate, base64.
    static let certificateHeader = HTTPFields.Element.Name("X-Test-Client-Certificate")!
    let issuerKey: SigningKey
    let dpopKey: SigningKey
    let app: Application<RouterResponder<AppContext>>

    init() throws {
        try self.init(replayCacheCapacity: 100_000)
    }

    init(replayCacheCapacity: Int) throws {
        issuerKey = try SigningKey.generate(.es256)
        dpopKey = try SigningKey.generate(.es256)
        var configuration = TokenVerifier.Configuration()
        configuration.dpopReplayCacheCapacity = replayCacheCapacity
        let verifier = TokenVerifier(
            issuer: Self.issuer, audience: "https://api.example", keys: JWKSet(keys: [issuerKey.publicJWK]), configuration: configuration)
        let router = Router(context: AppContext.self)
        router.group("orders")
            .add(middleware: BearerTokenMiddleware(verifier: verifier))
            .add(middleware: RequireScopes("orders:read"))
            .get { _, context in "hello \(context.verifiedToken?.clientID ?? "?")" }
        router.group("public")
            .add(middleware: BearerTokenMiddleware(verifier: verifier, publicBaseURL: "https://api.example/v1/"))
            .get { _, _ in "public ok" }
        router.group("mtls")
            .add(
                middleware: BearerTokenMiddleware(
                    verifier: verifier,
                    clientCertificate: { request, _ in request.headers[Self.certificateHeader].flatMap { Data(base64Encoded: $0) }.map { Array($0) } })
            )
            .get { _, context in "mtls \(context.verifiedToken?.cnf?.x5tS256 ?? "?")" }
        app = Application(router: router)
    }

    struct Answer {
        let status: HTTPResponse.Status
        let challenges: [String]
        let retryAfter: String?
        let body: String
    }

    func send(
        _ path: String, method: HTTPRequest.Method = .get, authorization: String?, proofs: [String] = [], certificate: [UInt8]? = nil
    ) async throws -> Answer {
        try await app.test(.router) { client in
            var headers = HTTPFields()
            if let authorization { headers[.authorization] = authorization }
            headers[values: Self.dpop] = proofs
            if let certificate { headers[Self.certificateHeader] = Data(certificate).base64EncodedString() }
            let response = try await client.execute(uri: path, method: method, headers: headers)
            return Answer(
                status: response.status, challenges: response.headers[values: .wwwAuthenticate], retryAfter: response.headers[.retryAfter],
                body: String(buffer: response.body))
        }
    }

    func token(cnf: TesseraJOSE.Confirmation?, scope: String = "orders:read", iat: Date = Date()) throws -> String {
        try accessToken(issuerKey, issuer: Self.issuer, scope: scope, iat: iat, cnf: cnf)
    }

    func boundToken(scope: String = "orders:read", iat: Date = Date()) throws -> String {
        try token(cnf: TesseraJOSE.Confirmation(jkt: try dpopKey.publicJWK.thumbprint()), scope: scope, iat: iat)
    }

    func proof(_ token: String, method: String = "GET", url: String = "http://localhost/orders", key: SigningKey? = nil) throws -> String {
        try DPoPProof.sign(
            with: key ?? dpopKey, method: method, url: url, iat: Int64(Date().timeIntervalSince1970), jti: UUID().uuidString, accessToken: token)
    }

    static let invalidProof =
        #"DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof is invalid", "# + algs
    static let invalidProofBody = #"{"error":"invalid_dpop_proof","error_description":"the DPoP proof is invalid"}"#
    static let invalidDPoPToken =
        #"DPoP realm="api", error="invalid_token", error_description="the access token is invalid or expired", "# + algs
    static let invalidBearerToken = #"Bearer realm="api", error="invalid_token", error_description="the access token is invalid or expired""#
    static let invalidTokenBody = #"{"error":"invalid_token","error_description":"the access token is invalid or expired"}"#

    @Test func noCredentialsGetABearerAndADPoPChallenge() async throws {
        for header in [nil, "Basic abc", "Negotiate abc"] as [String?] {
            let answer = try await send("/orders", authorization: header)
            #expect(answer.status == .unauthorized)
            #expect(answer.challenges == [#"Bearer realm="api""#, #"DPoP realm="api", "# + Self.algs])
            #expect(answer.body == "")
        }
    }

    @Test func aDPoPBoundTokenWithItsProofPasses() async throws {
        let token = try boundToken()
        // The query is not part of htu; the scheme's name is case-insensitive (RFC 9110 §11.1).
        for scheme in ["DPoP", "dpop"] {
            let answer = try await send("/orders?page=2", authorization: "\(scheme) \(token)", proofs: [try proof(token)])
            #expect(answer.status == .ok)
            #expect(answer.challenges == [])
            #expect(answer.body == "hello tsc_client")
        }
    }

    @Test func thePublicBaseURLIsTheBaseOfHtu() async throws {
        let token = try boundToken()
        let answer = try await send("/public", authorization: "DPoP \(token)", proofs: [try proof(token, url: "https://api.example/v1/public")])
        #expect(answer.status == .ok)
        #expect(answer.body == "public ok")
        // The Host the request came with is not the public URL here.
        let byHost = try await send("/public", authorization: "DPoP \(token)", proofs: [try proof(token, url: "http://localhost/public")])
        #expect(byHost.status == .unauthorized)
        #expect(byHost.challenges == [Self.invalidProof])
    }

    @Test func proofFailuresAre401InvalidDPoPProof() async throws {
        let token = try boundToken()
        let replayed = try proof(token)
        #expect(try await send("/orders", authorization: "DPoP \(token)", proofs: [replayed]).status == .ok)
        let cases: [(String, [String])] = [
            ("no proof", []),
            ("two proofs", [try proof(token), try proof(token)]),
            ("another method", [try proof(token, method: "POST")]),
            ("another URL", [try proof(token, url: "http://localhost/invoices")]),
            ("another token's hash", [try proof(token + "x")]),
            ("not a JWS", ["garbage"]),
            ("replayed", [replayed]),
        ]
        for (name, proofs) in cases {
            let answer = try await send("/orders", authorization: "DPoP \(token)", proofs: proofs)
            #expect(answer.status == .unauthorized, "\(name)")
            #expect(answer.challenges == [Self.invalidProof], "\(name)")
            #expect(answer.body == Self.invalidProofBody, "\(name)")
        }
    }

    @Test func tokenAndBindingFailuresAre401InvalidTokenInTheDPoPChallenge() async throws {
        let thief = try SigningKey.generate(.es256)
        let bound = try boundToken()
        let unbound = try self.token(cnf: nil)
        let expired = try boundToken(iat: Date(timeIntervalSinceNow: -7200))
        let cases: [(String, String, String)] = [
            ("another key's proof", bound, try proof(bound, key: thief)),
            ("an unbound token", unbound, try proof(unbound)),
            ("an expired token", expired, try proof(expired)),
        ]
        for (name, presented, presentedProof) in cases {
            let answer = try await send("/orders", authorization: "DPoP \(presented)", proofs: [presentedProof])
            #expect(answer.status == .unauthorized, "\(name)")
            #expect(answer.challenges == [Self.invalidDPoPToken], "\(name)")
            #expect(answer.body == Self.invalidTokenBody, "\(name)")
        }
    }

    @Test func aDPoPBoundTokenPresentedAsBearerIsToldToUseDPoP() async throws {
        let token = try boundToken()
        // Even with a good proof beside it: the scheme is what counts (RFC 9449 §7.2).
        let answer = try await send("/orders", authorization: "Bearer \(token)", proofs: [try proof(token)])
        #expect(answer.status == .unauthorized)
        #expect(answer.challenges == [Self.invalidDPoPToken])
        // An unbound token as Bearer is as before, a DPoP header beside it ignored.
        let unbound = try self.token(cnf: nil)
        #expect(try await send("/orders", authorization: "Bearer \(unbound)", proofs: ["garbage"]).body == "hello tsc_client")
    }

    @Test func aMalformedDPoPAuthorizationIs400() async throws {
        for header in ["DPoP", "DPoP a b", "DPoP a\"b"] {
            let answer = try await send("/orders", authorization: header, proofs: ["x"])
            #expect(answer.status == .badRequest, "\(header)")
            #expect(
                answer.challenges == [#"DPoP realm="api", error="invalid_request", error_description="the Authorization header is malformed", "# + Self.algs])
        }
    }

    @Test func aCertificateBoundTokenNeedsTheConnectionsCertificate() async throws {
        let certificate: [UInt8] = Array("client certificate DER".utf8)
        let x5t = TesseraJOSE.Confirmation.certificateThumbprint(der: certificate)
        let bound = try self.token(cnf: TesseraJOSE.Confirmation(x5tS256: x5t))
        for presented in [nil, certificate + [0]] as [[UInt8]?] {
            let answer = try await send("/mtls", authorization: "Bearer \(bound)", certificate: presented)
            #expect(answer.status == .unauthorized)
            #expect(answer.challenges == [Self.invalidBearerToken])
            #expect(answer.body == Self.invalidTokenBody)
        }
        // A service that hands the middleware no certificate cannot take such tokens.
        #expect(try await send("/orders", authorization: "Bearer \(bound)", certificate: certificate).challenges == [Self.invalidBearerToken])
        let answer = try await send("/mtls", authorization: "Bearer \(bound)", certificate: certificate)
        #expect(answer.status == .ok)
        #expect(answer.body == "mtls \(x5t)")

        // Bound both ways: the proof and the certificate.
        let both = try self.token(cnf: TesseraJOSE.Confirmation(jkt: try dpopKey.publicJWK.thumbprint(), x5tS256: x5t))
        let bothProof = try proof(both, url: "http://localhost/mtls")
        #expect(try await send("/mtls", authorization: "DPoP \(both)", proofs: [bothProof]).challenges == [Self.invalidDPoPToken])
        #expect(try await send("/mtls", authorization: "DPoP \(both)", proofs: [bothProof], certificate: certificate).status == .ok)
    }

    @Test func aMissingScopeOfADPoPTokenIsAnsweredInTheDPoPScheme() async throws {
        let token = try boundToken(scope: "orders:write")
        let answer = try await send("/orders", authorization: "DPoP \(token)", proofs: [try proof(token)])
        #expect(answer.status == .forbidden)
        #expect(
            answer.challenges == [
                #"DPoP realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="orders:read", "#
                    + Self.algs
            ])
    }

    @Test func aFullReplayCacheIs503() async throws {
        let tests = try DPoPMiddlewareTests(replayCacheCapacity: 1)
        let token = try tests.boundToken()
        #expect(try await tests.send("/orders", authorization: "DPoP \(token)", proofs: [try tests.proof(token)]).status == .ok)
        let answer = try await tests.send("/orders", authorization: "DPoP \(token)", proofs: [try tests.proof(token)])
        #expect(answer.status == .serviceUnavailable)
        #expect(answer.retryAfter == "5")
        #expect(answer.challenges == [])
    }
}
