import Foundation
import TesseraJOSE

/// A `private_key_jwt` client assertion (RFC 7523 §2.2, §3), parsed and checked
/// as far as it can be without the store: its structure, `iss` = `sub` = the
/// client id, `aud`, the time claims under ``TimeClaims``, and a `jti`. Which key
/// signed it, and whether the `jti` was used before, ``TokenService`` checks.
///
/// Every failure is `invalid_client`, as RFC 7523 §3.2 asks.
public struct ClientAssertion: Sendable {
    /// How far ahead an assertion's `exp` may lie by default: one hour, what
    /// common client libraries sign (Authlib's `PrivateKeyJWT` among them). The
    /// `jti` is remembered until `exp`, so a longer-lived assertion is no easier
    /// to replay.
    public static let defaultMaximumLifetime: Int64 = 3600
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    public static let leeway: Int64 = 30
    /// Longest `iss`, `sub` and `jti` accepted, in bytes.
    static let maximumIdentifierLength = 256

    public let jws: CompactJWS
    public let clientID: String
    public let audience: [String]
    public let times: TimeClaims
    public let jti: String

    /// Parses an assertion: a compact JWS whose payload is a JSON object with
    /// string `iss`, `sub` and `jti`, `aud` a string or an array of strings, an
    /// integer NumericDate `exp`, and optional integer NumericDates `nbf` and `iat`.
    public init(_ text: String) throws(OAuthError) {
        let malformed = OAuthError.invalidClient("the client assertion is malformed")
        do {
            jws = try CompactJWS(text)
        } catch {
            throw malformed
        }
        guard let members = try? JSONValue.parse(jws.payload).object else { throw malformed }
        func time(_ name: String) throws(OAuthError) -> Int64? {
            guard let value = members[name], value != .null else { return nil }
            guard let date = value.numericDate else {
                throw OAuthError.invalidClient("the client assertion is refused: \(TimeClaims.Violation.outOfRange(claim: name))")
            }
            return date
        }
        guard let iss = members["iss"]?.string, let sub = members["sub"]?.string, let jti = members["jti"]?.string,
            let aud = members["aud"].flatMap({ $0.string.map { [$0] } ?? $0.strings })
        else {
            throw malformed
        }
        guard let exp = try time("exp") else { throw OAuthError.invalidClient("the client assertion needs exp") }
        guard iss == sub, iss.utf8.count <= Self.maximumIdentifierLength else {
            throw OAuthError.invalidClient("iss and sub of the client assertion must both be the client id")
        }
        guard !jti.isEmpty, jti.utf8.count <= Self.maximumIdentifierLength else {
            throw OAuthError.invalidClient("the client assertion needs a jti of 1–256 bytes")
        }
        clientID = iss
        audience = aud
        times = TimeClaims(exp: exp, nbf: try time("nbf"), iat: try time("iat"))
        self.jti = jti
    }

    /// Checks what needs no store: the client id sent beside the assertion (if
    /// any) is its `iss`, `aud` names the token endpoint or the issuer, and the
    /// time claims hold at `now` with `exp` at most `maximumLifetime` ahead.
    public func check(clientID sent: String?, issuer: String, now: Int64, maximumLifetime: Int64) throws(OAuthError) {
        guard sent == nil || sent == clientID else {
            throw OAuthError.invalidClient("client_id does not match the client assertion's iss")
        }
        guard audience.contains(issuer + "/oauth2/token") || audience.contains(issuer) else {
            throw OAuthError.invalidClient("aud of the client assertion must be the token endpoint or the issuer")
        }
        if let violation = times.violation(now: now, leeway: Self.leeway, maximumLifetime: maximumLifetime) {
            throw OAuthError.invalidClient("the client assertion is refused: \(violation)")
        }
    }

    /// Whether an assertion comes from another issuer (a federated credential's
    /// token, docs/federation.md) rather than from the client itself: its `iss` is
    /// not its `sub`, where a `private_key_jwt` assertion names the client in both.
    /// Read from the payload alone, so that another issuer's token that is no valid JWS
    /// (an `alg: none` token has no signature) is refused as such a token, in the
    /// same words as every other (docs/federation.md).
    public static func isFederated(_ text: String) -> Bool {
        let segments = text.utf8.split(separator: UInt8(ascii: "."), maxSplits: 3, omittingEmptySubsequences: false)
        guard text.utf8.count <= CompactJWS.maximumLength, segments.count == 3, let payload = Base64URL.decode(bytes: segments[1]),
            let members = try? JSONValue.parse(payload).object, let iss = members["iss"]?.string
        else {
            return false
        }
        return iss != members["sub"]?.string
    }

    /// Until when the `jti` must be remembered: past `exp` and the leeway, it
    /// would be refused as expired anyway.
    public var replayWindowEnd: Date {
        Date(timeIntervalSince1970: TimeInterval(times.exp + Self.leeway))
    }
}
