// A service that calls the example resource server with a Tessera token.
//
//   TESSERA_ISSUER=http://127.0.0.1:8080 CLIENT_ID=tsc_… CLIENT_SECRET=tss_… \
//   RESOURCE_URL=http://127.0.0.1:9090/orders swift run example-caller
import AsyncHTTPClient
import Foundation
import TesseraVerifier

let environment = ProcessInfo.processInfo.environment
guard let clientID = environment["CLIENT_ID"], let secret = environment["CLIENT_SECRET"] else {
    FileHandle.standardError.write(Data("set CLIENT_ID and CLIENT_SECRET\n".utf8))
    exit(2)
}
let issuer = environment["TESSERA_ISSUER"] ?? "http://127.0.0.1:8080"
let resource = environment["RESOURCE_URL"] ?? "http://127.0.0.1:9090/orders"

/// Calls the resource with a token from `source`; returns the process exit code.
func call(_ source: TokenSource) async throws -> Int32 {
    var request = HTTPClientRequest(url: resource)
    try await source.authorize(&request)
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 1 << 20)
    print(response.status.code, String(buffer: body))
    return response.status == .ok ? 0 : 1
}

let source = TokenSource(issuer: issuer, clientID: clientID, credentials: .secret(secret), scopes: ["api:read"])
exit(try await call(source))
