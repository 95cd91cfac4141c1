import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

/// Error answers of the OAuth endpoints, discovery, health, the admin API and the
/// front layer, each through the real router with its exact status, body and headers.
@Suite struct ErrorPathTests {
    /// 32 KiB and one byte: the introspection and revocation endpoints' limit is 32 KiB.
    static let oversizeForm = "token=" + String(repeating: "a", count: 32 * 1024 - 5)

    static let storeUnavailableProblem = #"{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"the store is unavailable"}"#

    static func expectOAuthError(_ response: TestResponse, _ status: HTTPResponse.Status, _ json: String, retryAfter: String? = nil) throws {
        #expect(response.status == status)
        #expect(response.headers[.contentType] == "application/json")
        #expect(response.headers[.cacheControl] == "no-store")
        #expect(response.headers[.pragma] == "no-cache")
        #expect(response.headers[.retryAfter] == retryAfter)
        #expect(try response.canonicalJSON() == canonicalJSON(json))
    }

    static func expectProblem(_ response: TestResponse, _ json: String, retryAfter: String? = nil) throws {
        #expect(response.headers[.contentType] == "application/problem+json")
        #expect(response.headers[.retryAfter] == retryAfter)
        #expect(try response.canonicalJSON() == canonicalJSON(json))
    }

    @Test(arguments: ["/oauth2/introspect", "/oauth2/revoke"])
    func oversizeBodyIs413(_ path: String) async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        #expect(Self.oversizeForm.utf8.count == 32 * 1024 + 1)
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let response = try await client.form(path, Self.oversizeForm, as: admin)
            try Self.expectOAuthError(response, .contentTooLarge, #"{"error":"invalid_request","error_description":"the body exceeds 32768 bytes"}"#)
            // At the limit the body is read: the token is answered (inactive), or revoked (nothing, 200).
            let atLimit = try await client.form(path, String(Self.oversizeForm.dropLast()), as: admin)
            #expect(atLimit.status == .ok)
            // Nothing was revoked by the refused request.
            #expect(try await client.form("/oauth2/introspect", "token=\(token)", as: admin).jsonObject()["active"] as? Bool == true)
        }
    }

    /// With the store down, a caller the server does not know cannot be checked, and
    /// a token whose account is not in the cache cannot be judged: 503, not an answer.
    @Test func introspectionWithTheStoreDownIs503() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let stranger = try await harness.credentials()
        let worker = try await harness.credentials(role: "member")
        try await harness.run { client in
            let token = try await client.accessToken(worker)
            // The admin is known (it introspected once); the worker's record is dropped from the cache.
            #expect(try await client.form("/oauth2/introspect", "token=\(token)", as: admin).jsonObject()["active"] as? Bool == true)
            harness.tessera.clients.invalidate(clientID: worker.clientID)
            harness.storeDown(true)
            try Self.expectOAuthError(
                try await client.form("/oauth2/introspect", "token=\(token)", as: admin), .serviceUnavailable,
                #"{"error":"temporarily_unavailable","error_description":"the token store is unavailable"}"#, retryAfter: "1"
            )
            try Self.expectOAuthError(
                try await client.form("/oauth2/introspect", "token=\(token)", as: stranger), .serviceUnavailable,
                #"{"error":"temporarily_unavailable","error_description":"the client store is unavailable"}"#, retryAfter: "1"
            )
            harness.storeDown(false)
            #expect(try await client.form("/oauth2/introspect", "token=\(token)", as: admin).jsonObject()["active"] as? Bool == true)
        }
    }

    /// A revocation the store cannot write is refused with 503, and nothing is
    /// remembered: once the store is back, the token is still active.
    @Test func revocationWithTheStoreDownIs503AndRevokesNothing() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let owner = try await harness.credentials(role: "member")
        let stranger = try await harness.credentials(role: "member")
        try await harness.run { client in
            let token = try await client.accessToken(owner)
            harness.storeDown(true)
            try Self.expectOAuthError(
                try await client.form("/oauth2/revoke", "token=\(token)", as: owner), .serviceUnavailable,
                #"{"error":"temporarily_unavailable","error_description":"the revocation could not be stored"}"#, retryAfter: "1"
            )
            try Self.expectOAuthError(
                try await client.form("/oauth2/revoke", "token=\(token)", as: stranger), .serviceUnavailable,
                #"{"error":"temporarily_unavailable","error_description":"the client store is unavailable"}"#, retryAfter: "1"
            )
            harness.storeDown(false)
            #expect(try await client.form("/oauth2/introspect", "token=\(token)", as: admin).jsonObject()["active"] as? Bool == true)
            let claims = try harness.tessera.validator.signedClaims(token)
            #expect(try await harness.tessera.storage.isTokenRevoked(jti: claims.jti) == false)
            // The same revocation succeeds once the store answers.
            #expect(try await client.form("/oauth2/revoke", "token=\(token)", as: owner).status == .ok)
            #expect(try await client.form("/oauth2/introspect", "token=\(token)", as: admin).text == #"{"active":false}"#)
        }
    }

    @Test func jwksWithoutASigningKeyIs503() async throws {
        let harness = try await ServerHarness(startKeyRing: false)
        defer { harness.cleanup() }
        try await harness.run { client in
            let response = try await client.execute(uri: "/.well-known/jwks.json", method: .get)
            #expect(response.status == .serviceUnavailable)
            #expect(response.headers[.cacheControl] == "no-store")
            try Self.expectProblem(
                response, #"{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"no signing key is loaded"}"#, retryAfter: "1"
            )
        }
    }

    /// Readiness: the store answers and a signing key is loaded; each check failing alone.
    @Test func readinessIs503WhenTheStoreIsDownOrNoKeyIsLoaded() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        try await harness.run { client in
            harness.storeDown(true)
            let down = try await client.execute(uri: "/health/ready", method: .get)
            #expect(down.status == .serviceUnavailable)
            #expect(down.headers[.contentType] == "application/json")
            #expect(try down.canonicalJSON() == canonicalJSON(#"{"status":"unavailable","checks":{"store":"unavailable","signing_key":"ok"}}"#))
            // Liveness does not depend on the store.
            #expect(try await client.execute(uri: "/health/alive", method: .get).status == .ok)
            harness.storeDown(false)
            let ready = try await client.execute(uri: "/health/ready", method: .get)
            #expect(ready.status == .ok)
            #expect(try ready.canonicalJSON() == canonicalJSON(#"{"status":"ok","checks":{"store":"ok","signing_key":"ok"}}"#))
        }
        let keyless = try await ServerHarness(startKeyRing: false)
        defer { keyless.cleanup() }
        try await keyless.run { client in
            let response = try await client.execute(uri: "/health/ready", method: .get)
            #expect(response.status == .serviceUnavailable)
            #expect(try response.canonicalJSON() == canonicalJSON(#"{"status":"unavailable","checks":{"store":"ok","signing_key":"missing"}}"#))
        }
    }

    /// While the store is unreachable, admin writes fail whole with 503
    /// (docs/threat_model.md) and `Retry-After: 1`, applying nothing; reads too, and
    /// a caller whose record is not cached cannot be authenticated either.
    @Test func adminAPIWithTheStoreDownIs503AndChangesNothing() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let other = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            let otherToken = try await client.accessToken(other)
            #expect(try await client.call(.get, "/v1/whoami", token: token).status == .ok)
            harness.tessera.clients.invalidate(clientID: other.clientID)
            harness.storeDown(true)
            let path = "/v1/tenants/acme/service-accounts"
            for (method, uri, json, caller) in [
                (HTTPRequest.Method.post, path, #"{"name":"during-outage"}"#, token),
                (.get, path, nil, token),
                (.patch, "\(path)/\(other.serviceAccountID)", #"{"status":"disabled"}"#, token),
                (.post, "/v1/tenants/acme/roles", #"{"name":"billing","scopes":["invoices:read"]}"#, token),
                (.get, "/v1/whoami", nil, token),
                (.get, path, nil, otherToken),
            ] as [(HTTPRequest.Method, String, String?, String)] {
                let response = try await client.call(method, uri, token: caller, json: json)
                #expect(response.status == .serviceUnavailable, "\(method) \(uri)")
                try Self.expectProblem(response, Self.storeUnavailableProblem, retryAfter: "1")
            }
            harness.storeDown(false)
            let listed = try await client.call(.get, path, token: token)
            #expect(try Set(listed.items().compactMap { $0["id"] as? String }) == [admin.serviceAccountID, other.serviceAccountID])
            #expect(try await client.call(.get, "\(path)/\(other.serviceAccountID)", token: token).jsonObject()["status"] as? String == "active")
            #expect(
                try await client.call(.get, "/v1/tenants/acme/roles", token: token).items().compactMap { $0["name"] as? String }.sorted()
                    == Role.defaultCatalogue.map(\.name).sorted())
        }
    }

    /// A front layer over a router whose routes throw, as ``TesseraHTTP/router`` builds it.
    static func front(_ routes: (Router<TesseraRequestContext>) -> Void) -> Application<FrontResponder<RouterResponder<TesseraRequestContext>>> {
        let router = Router(context: TesseraRequestContext.self)
        routes(router)
        return Application(router: TesseraRouter(router: router, requestIDs: RequestIDs(dependencies: .live), metrics: nil))
    }

    /// What reaches the caller when a route throws, through the front layer
    /// (FrontResponder) as every Tessera route is served: an `HTTPError` is answered
    /// by Hummingbird's router with its status and its headers (a 503's
    /// `Retry-After` included) and no body; any other error is a 500 problem that
    /// says nothing more; every answer carries its request id.
    @Test func theFrontLayerKeepsHTTPErrorsAndHidesOtherErrors() async throws {
        let app = Self.front { router in
            router.get("/unavailable") { _, _ -> Response in throw HTTPError(.serviceUnavailable, headers: [.retryAfter: "1"]) }
            router.get("/too-large") { _, _ -> Response in throw HTTPError(.contentTooLarge) }
            router.get("/store") { _, _ -> Response in throw StoreError.unavailable("connection refused to db.internal:5432") }
            router.get("/other") { _, _ -> Response in throw CancellationError() }
        }
        try await app.test(.router) { client in
            let unavailable = try await client.execute(uri: "/unavailable", method: .get, headers: [.requestID: "front-1"])
            #expect(unavailable.status == .serviceUnavailable)
            #expect(unavailable.headers[.retryAfter] == "1")
            #expect(unavailable.headers[.requestID] == "front-1")
            #expect(unavailable.headers[.contentLength] == "0")
            #expect(unavailable.body.readableBytes == 0)
            let tooLarge = try await client.execute(uri: "/too-large", method: .get, headers: [.requestID: "front-2"])
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.headers[.retryAfter] == nil)
            #expect(tooLarge.headers[.requestID] == "front-2")
            #expect(tooLarge.body.readableBytes == 0)
            for path in ["/store", "/other"] {
                let response = try await client.execute(uri: path, method: .get, headers: [.requestID: "front-3"])
                #expect(response.status == .internalServerError, "\(path)")
                #expect(response.headers[.requestID] == "front-3")
                // Nothing of the error reaches the caller.
                #expect(!response.text.contains("db.internal"))
                try Self.expectProblem(response, #"{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal error"}"#)
            }
            let missing = try await client.execute(uri: "/nowhere", method: .delete)
            #expect(missing.status == .notFound)
            try Self.expectProblem(missing, #"{"type":"about:blank","title":"Not Found","status":404,"detail":"no route for DELETE /nowhere"}"#)
        }
    }
}
