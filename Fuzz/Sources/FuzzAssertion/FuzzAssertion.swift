import Foundation
import FuzzerDriver
import TesseraCore
import TesseraJOSE

/// fuzz-assertion: an input that starts with a 0x00 byte is time claims, any other
/// a client assertion and another issuer's token.
///
/// - Assertion: `ClientAssertion(_:)` on the input as text and, when it parses,
///   `check(clientID:issuer:now:maximumLifetime:)` with fixed values (the seeds are
///   valid for them) and with no client id or the assertion's own.
/// - Time claims: after the 0x00, six little-endian Int64s (exp, nbf, iat, now,
///   leeway, maximumLifetime; missing bytes are zero) and one byte whose bits 0, 1
///   and 2 say whether nbf, iat and maximumLifetime are given, for
///   `TimeClaims.violation(now:leeway:maximumLifetime:)`.
///
/// Oracles besides "nothing traps": a parsed assertion has `iss` = its client id of
/// at most 256 bytes, a `jti` of 1–256 bytes and time claims that are NumericDates;
/// `violation` gives what the rules written in its documentation give when computed
/// in 128-bit integers, where nothing can overflow.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAssertion(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if bytes.first == 0 {
        fuzzTimeClaims(Array(bytes.dropFirst()))
    } else {
        fuzzClientAssertion(String(decoding: bytes, as: UTF8.self))
    }
    return 0
}

enum Fixed {
    static let clientID = "tsc_4bF9kQ2xVt7mN1pR"
    static let issuer = "https://issuer.example"
    /// 2027-01-15T08:00:00Z; the seed assertions are valid then.
    static let now: Int64 = 1_800_000_000
}

func fuzzClientAssertion(_ text: String) {
    fuzzExternalToken(text)
    guard let assertion = try? ClientAssertion(text) else { return }
    require(assertion.clientID.utf8.count <= 256, "the client id is at most 256 bytes")
    require(!assertion.jti.isEmpty && assertion.jti.utf8.count <= 256, "the jti is 1–256 bytes")
    let times = assertion.times
    require(TimeClaims.isNumericDate(times.exp), "exp is a NumericDate")
    require(times.nbf.map(TimeClaims.isNumericDate) ?? true && times.iat.map(TimeClaims.isNumericDate) ?? true, "nbf and iat are NumericDates")
    for sent in [Fixed.clientID, nil, assertion.clientID] {
        for maximumLifetime in [ClientAssertion.defaultMaximumLifetime, 0, .max] {
            _ = try? assertion.check(clientID: sent, issuer: Fixed.issuer, now: Fixed.now, maximumLifetime: maximumLifetime)
        }
    }
    _ = assertion.replayWindowEnd
}

/// The same text as another issuer's token (docs/federation.md): `isFederated`,
/// `ExternalToken`, the claim paths and the patterns built from its own claims.
/// Oracles: a parsed token has an `iss` of 1–1024 bytes, and a value matches
/// itself as a pattern, and `*` matches anything.
func fuzzExternalToken(_ text: String) {
    _ = ClientAssertion.isFederated(text)
    guard let token = try? ExternalToken(text) else { return }
    require(!token.issuer.isEmpty && token.issuer.utf8.count <= 1024, "iss is 1–1024 bytes")
    for (name, _) in token.claims.prefix(8) {
        guard let value = token.claims.claimText(name) else { continue }
        require(Pattern.matches(value, "*"), "* matches every value")
        require(value.contains("*") || Pattern.matches(value, value), "a value without * matches itself")
        _ = Pattern.matches(value, "*" + value.prefix(16) + "*")
    }
    _ = token.claims.claimText("kubernetes.io.serviceaccount.name")
    _ = token.kubernetesDefaultServiceAccount
}

func fuzzTimeClaims(_ input: [UInt8]) {
    let padded = input + [UInt8](repeating: 0, count: max(0, 49 - input.count))
    func int64(_ index: Int) -> Int64 {
        var value: UInt64 = 0
        for offset in (0..<8).reversed() { value = value << 8 | UInt64(padded[index * 8 + offset]) }
        return Int64(bitPattern: value)
    }
    let flags = padded[48]
    let claims = TimeClaims(exp: int64(0), nbf: flags & 1 != 0 ? int64(1) : nil, iat: flags & 2 != 0 ? int64(2) : nil)
    let now = int64(3), leeway = int64(4), maximumLifetime = flags & 4 != 0 ? int64(5) : nil
    let violation = claims.violation(now: now, leeway: leeway, maximumLifetime: maximumLifetime)
    let expected = referenceViolation(claims, now: now, leeway: leeway, maximumLifetime: maximumLifetime)
    require(violation == expected, "violation is \(String(describing: violation)), the rules give \(String(describing: expected))")
}

/// The rules of `TimeClaims`, as its documentation states them, in 128-bit arithmetic.
func referenceViolation(_ claims: TimeClaims, now: Int64, leeway: Int64, maximumLifetime: Int64?) -> TimeClaims.Violation? {
    let range = Int128(0)...Int128(TimeClaims.latest)
    func clamp(_ value: Int64, _ bounds: ClosedRange<Int128>) -> Int128 { min(max(Int128(value), bounds.lowerBound), bounds.upperBound) }
    guard range.contains(Int128(claims.exp)) else { return .outOfRange(claim: "exp") }
    if let nbf = claims.nbf, !range.contains(Int128(nbf)) { return .outOfRange(claim: "nbf") }
    if let iat = claims.iat, !range.contains(Int128(iat)) { return .outOfRange(claim: "iat") }
    let now = clamp(now, range), leeway = clamp(leeway, 0...3600), exp = Int128(claims.exp)
    if now >= exp + leeway { return .expired }
    if let nbf = claims.nbf, now < Int128(nbf) - leeway { return .notYetValid }
    if let iat = claims.iat, now < Int128(iat) - leeway { return .issuedInFuture }
    if let maximumLifetime {
        let maximum = clamp(maximumLifetime, range)
        if exp - now > maximum + leeway { return .lifetimeTooLong(maximum: Int64(maximum)) }
    }
    return nil
}

@main enum FuzzAssertionMain {
    static func main() {
        exit(tessera_fuzzer_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzAssertion))
    }
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("oracle failed: \(message())") }
}
