import Foundation
import Hummingbird
import Testing
@testable import TesseraServer

/// The OpenAPI document at `GET /openapi.json` describes exactly the routes the
/// router serves: a route added without its description, or a description left
/// behind by a removed route, fails here. The seed dialects' routes are described
/// by the seeds and docs/dialects.md, not by this document.
@Suite struct OpenAPIRouteTests {
    /// Served but deliberately undocumented: the document itself, the token
    /// endpoint's GET, which only answers 405 with `Allow: POST`, and the console's
    /// pages and files (its one API route, `POST /console/sign-in`, is documented).
    static let undocumented: Set<String> = ["GET /openapi.json", "GET /oauth2/token", "GET /console", "GET /console/**", "GET /console/assets/{file}"]

    /// `METHOD /path` for every operation in the document.
    static func documented() throws -> Set<String> {
        let object = try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8))
        let paths = try #require((object as? [String: Any])?["paths"] as? [String: [String: Any]])
        var operations: Set<String> = []
        for (path, item) in paths {
            for method in item.keys where ["get", "put", "post", "patch", "delete"].contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// `METHOD /path` for every route the router registers, its parameters written
    /// `{name}` as in the document (HEAD, which the router adds wherever GET is, left out).
    static func registered(dialects: Set<Dialect>) async throws -> Set<String> {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let router = TesseraHTTP.router(tessera: harness.tessera, configuration: .init(dialects: dialects)).router
        return Set(router.routes.filter { $0.method != .head }.map { "\($0.method) \($0.path)" })
    }

    @Test func everyNativeRouteIsDocumentedAndEveryDocumentedRouteIsServed() async throws {
        let registered = try await Self.registered(dialects: [])
        let documented = try Self.documented()
        #expect(registered.subtracting(Self.undocumented).subtracting(documented).sorted() == [], "served without a description")
        #expect(documented.subtracting(registered).sorted() == [], "described but not served")
        #expect(Self.undocumented.isSubset(of: registered))
    }

    @Test func theDialectsAddOnlyTheirOwnRoutes() async throws {
        let native = try await Self.registered(dialects: [])
        let all = try await Self.registered(dialects: Set(Dialect.allCases))
        let added = all.subtracting(native)
        #expect(!added.isEmpty)
        // None of them under the native API's /v1 or the OAuth endpoints.
        #expect(added.filter { $0.contains(" /v1/") || $0.contains(" /oauth2/") }.sorted() == [])
        #expect(native.isSubset(of: all))
    }
}
