import Foundation
import FuzzerDriver
import TesseraJOSE

/// fuzz-jws: `CompactJWS(_:)` on the input as a token and, when it parses,
/// `verify(with:)` against fixed keys of every algorithm (FixedKeys.swift, the
/// public halves of the keys that signed the seed tokens); `JWSHeader(json:)` and
/// `AccessTokenClaims(json:)` on the input as JSON and on a parsed token's payload.
///
/// Oracles besides "nothing traps": a parsed token's segments are the canonical
/// base64url of what it decoded (one byte string has one accepted encoding), its
/// signing input is the first two segments, it has no `crit`, and a key verifies it
/// only when the header names that key's algorithm.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWS(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = try? JWSHeader(json: bytes)

    let token = String(decoding: bytes, as: UTF8.self)
    guard let jws = try? CompactJWS(token) else { return 0 }
    let utf8 = Array(token.utf8)
    let segments = utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    require(segments.count == 3, "a parsed token has three segments")
    require(utf8.count <= CompactJWS.maximumLength, "a parsed token is within the size limit")
    require(Array(Base64URL.encode(jws.payload).utf8) == Array(segments[1]), "the payload segment is canonical base64url")
    require(Array(Base64URL.encode(jws.signature).utf8) == Array(segments[2]), "the signature segment is canonical base64url")
    require(jws.signingInput == Array(utf8[..<(segments[0].count + 1 + segments[1].count)]), "the signing input is the first two segments")
    require(jws.header.crit == nil, "a parsed token has no crit")

    let keys = [FixedKeys.es256, FixedKeys.rs256, FixedKeys.ps256, FixedKeys.eddsa]
    for key in keys {
        if (try? jws.verify(with: key)) != nil {
            require(jws.header.alg == key.algorithm.rawValue, "a key verifies only tokens of its algorithm")
        }
    }
    _ = try? jws.verify(with: KeySet(keys))
    _ = try? AccessTokenClaims(json: jws.payload)
    return 0
}

@main enum FuzzJWSMain {
    static func main() {
        exit(tessera_fuzzer_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzJWS))
    }
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("oracle failed: \(message())") }
}
