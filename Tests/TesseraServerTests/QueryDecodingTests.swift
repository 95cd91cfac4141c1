import Foundation
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

/// Query strings are decoded as clients encode them: percent-encoded names and
/// values, and `+` for a space, on the dialects and the native API alike.
@Suite struct QueryDecodingTests {
    @Test func keycardsExpandArrivesPercentEncodedAsPythonRequestsSendsIt() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            // What requests.post(url, params={"expand[]": "permissions"}) puts on the wire.
            for (index, query) in ["?expand%5B%5D=permissions", "?expand[]=permissions", "?%65xpand=permissions"].enumerated() {
                let response = try await KeycardDialectTests.create(
                    client, token: token, organization: "acme", body: #"{"name":"expanded-\#(index)"}"#, query: query
                )
                #expect(response.status == .created, "\(query)")
                let permissions = try response.jsonObject()["permissions"] as? [String: [String: Bool]]
                #expect(permissions?["service_accounts"] == ["create": true, "read": true, "update": true, "delete": true, "list": true], "\(query)")
            }
            let plain = try await KeycardDialectTests.create(client, token: token, organization: "acme", body: #"{"name":"plain"}"#)
            #expect(try plain.jsonObject()["permissions"] == nil)
            // Malformed encoding is refused before anything is created.
            let malformed = try await KeycardDialectTests.create(client, token: token, organization: "acme", body: #"{"name":"never"}"#, query: "?expand=%zz")
            #expect(malformed.status == .badRequest)
            #expect(try malformed.jsonObject()["message"] as? String == "the query string is not valid percent-encoding")
            let listed = try await client.call(.get, "/v1/tenants/acme/service-accounts?name_prefix=never", token: token)
            #expect(try listed.items().isEmpty)
        }
    }

    @Test func theNativeAPIDecodesNamesValuesAndPlusSigns() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(admin)
            #expect(try await client.createAccount(tenant: "acme", token: token, body: #"{"name":"nightly export"}"#).status == .created)
            #expect(try await client.createAccount(tenant: "acme", token: token, body: #"{"name":"nightly-other"}"#).status == .created)
            for query in ["name_prefix=nightly+e", "name_prefix=nightly%20e", "name%5Fprefix=nightly%20ex"] {
                let listed = try await client.call(.get, "/v1/tenants/acme/service-accounts?\(query)", token: token)
                #expect(listed.status == .ok, "\(query)")
                #expect(try listed.items().map { $0["name"] as? String } == ["nightly export"], "\(query)")
            }
            let malformed = try await client.call(.get, "/v1/tenants/acme/service-accounts?name_prefix=%E0%A4", token: token)
            #expect(malformed.status == .badRequest)
            #expect(try malformed.jsonObject()["detail"] as? String == "the query string is not valid percent-encoding")
        }
    }
}
