// A resource server protected by Tessera tokens.
//
//   TESSERA_ISSUER=http://127.0.0.1:8080 PORT=9090 swift run example-resource-server
//
// GET /orders needs a token with scope api:read; GET /orders/audit also asks the
// issuer (hybrid mode) whether the token was revoked, when INTROSPECT_CLIENT_ID and
// INTROSPECT_CLIENT_SECRET name a client allowed to introspect.
//
// Both take bearer tokens and DPoP-bound ones (`Authorization: DPoP …` with a `DPoP`
// proof, docs/binding.md). A proof's htu must be PUBLIC_URL + the path; PUBLIC_URL is
// this server's URL as its callers address it (default http://127.0.0.1:PORT).
import Foundation
import Hummingbird
import TesseraVerifier
import TesseraVerifierHummingbird

struct AppContext: VerifiedTokenRequestContext {
    var coreContext: CoreRequestContextStorage
    var verifiedToken: VerifiedToken?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

let environment = ProcessInfo.processInfo.environment
let issuer = environment["TESSERA_ISSUER"] ?? "http://127.0.0.1:8080"
let port = Int(environment["PORT"] ?? "") ?? 9090
let audience = environment["AUDIENCE"] ?? issuer
let publicURL = environment["PUBLIC_URL"] ?? "http://127.0.0.1:\(port)"

var mode = TokenVerifier.Mode.offline
if let id = environment["INTROSPECT_CLIENT_ID"], let secret = environment["INTROSPECT_CLIENT_SECRET"] {
    mode = .hybrid(IntrospectionClient(endpoint: issuer + "/oauth2/introspect", clientID: id, secret: secret), maximumAge: 300)
}
let verifier = TokenVerifier(issuer: issuer, audience: audience, mode: mode)

let router = Router(context: AppContext.self)
router.get("/health") { _, _ in "ok" }
router.group("orders")
    .add(middleware: BearerTokenMiddleware(verifier: verifier, publicBaseURL: publicURL))
    .add(middleware: RequireScopes("api:read"))
    .get { _, context in
        #"{"orders":[],"caller":"\#(context.verifiedToken?.clientID ?? "")"}"#
    }
router.group("orders/audit")
    .add(middleware: BearerTokenMiddleware(verifier: verifier, sensitive: true, publicBaseURL: publicURL))
    .add(middleware: RequireScopes("api:read"))
    .get { _, context in
        #"{"audited":true,"caller":"\#(context.verifiedToken?.clientID ?? "")"}"#
    }

let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
