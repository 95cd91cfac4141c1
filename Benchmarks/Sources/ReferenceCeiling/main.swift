import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import TesseraJOSE

// The least a token endpoint can do: read the form, check grant_type, sign a
// fixed ES256 JWT and answer JSON. No client lookup, no secret check, no
// logging, no metrics. scripts/bench drives it with the same wrk script as
// Tessera and reports Tessera's figure as a share of this one.
// Swift concurrency on NIO's event loops, as `tessera serve` runs.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 18_099
let key = try SigningKey.generate(.es256)
let payload = Array(
    #"{"iss":"http://ceiling","sub":"s","aud":["http://ceiling"],"exp":4102444800,"iat":1800000000,"nbf":1800000000,"jti":"j","client_id":"c","scope":"api:read","tenant":"t","roles":["consumer"]}"#
        .utf8)

let router = Router()
router.post("/oauth2/token") { request, _ -> Response in
    let body = try await request.body.collect(upTo: 16_384)
    let form = String(buffer: body)
    guard form.split(separator: "&").contains("grant_type=client_credentials") else {
        return Response(status: .badRequest)
    }
    let token = try JWS.sign(payload: payload, with: key, type: "at+jwt")
    let json = #"{"access_token":""# + token + #"","token_type":"Bearer","expires_in":3600,"scope":"api:read"}"#
    return Response(
        status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
        body: ResponseBody(byteBuffer: ByteBuffer(string: json))
    )
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
