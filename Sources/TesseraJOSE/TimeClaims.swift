import Foundation

/// The one policy for the time claims of every JWT Tessera reads: client
/// assertions at the token endpoint, access tokens at the admin API and at
/// introspection, and access tokens in `TesseraVerifier`.
///
/// A NumericDate (RFC 7519 §2) from a client is bounded before any arithmetic:
/// only whole seconds from 1970-01-01 to 9999-12-31 are dates, so `exp + leeway`
/// or `exp - now` can never overflow, whatever a token says. Outside that range a
/// claim is malformed, which the caller reports as it reports any bad token.
///
/// The checks (with `leeway` for clock skew, RFC 7519 §4.1.4–4.1.6):
/// - `exp`: the token is refused once `now >= exp + leeway`;
/// - `nbf`: refused while `now < nbf - leeway`;
/// - `iat`: refused while `now < iat - leeway` (issued in the future);
/// - with `maximumLifetime`, refused when `exp` lies more than that (plus the
///   leeway) ahead of `now`: a client assertion must be short-lived.
public struct TimeClaims: Sendable, Hashable {
    /// The latest NumericDate accepted: 9999-12-31T23:59:59Z.
    public static let latest: Int64 = 253_402_300_799
    /// The range of NumericDates accepted.
    public static let range: ClosedRange<Int64> = 0...latest

    public var exp: Int64
    public var nbf: Int64?
    public var iat: Int64?

    /// Why time claims were refused.
    public enum Violation: Error, Sendable, Hashable, CustomStringConvertible {
        /// A claim is not a NumericDate in ``TimeClaims/range``.
        case outOfRange(claim: String)
        case expired
        case notYetValid
        case issuedInFuture
        /// `exp` is further ahead than the maximum lifetime allows.
        case lifetimeTooLong(maximum: Int64)

        public var description: String {
            switch self {
            case .outOfRange(let claim): "\(claim) is not a NumericDate from 1970 to 9999"
            case .expired: "the token has expired"
            case .notYetValid: "the token is not valid yet"
            case .issuedInFuture: "the token was issued in the future"
            case .lifetimeTooLong(let maximum): "exp is more than \(maximum) s ahead"
            }
        }
    }

    public init(exp: Int64, nbf: Int64? = nil, iat: Int64? = nil) {
        self.exp = exp
        self.nbf = nbf
        self.iat = iat
    }

    /// Whether `value` is a NumericDate this policy accepts.
    public static func isNumericDate(_ value: Int64) -> Bool { range.contains(value) }

    /// `date` in whole seconds since 1970, clamped to ``range`` (a clock is never
    /// outside it, but the conversion must not trap if one were).
    public static func seconds(_ date: Date) -> Int64 {
        let value = date.timeIntervalSince1970
        guard value.isFinite else { return value > 0 ? latest : 0 }
        return Int64(min(max(value.rounded(.down), 0), Double(latest)))
    }

    /// The first violation, or `nil` when the claims are acceptable at `now`.
    ///
    /// - Parameters:
    ///   - now: seconds since 1970 (see ``seconds(_:)``).
    ///   - leeway: tolerated clock skew in seconds, clamped to 0…3600.
    ///   - maximumLifetime: how far ahead of `now` `exp` may lie; `nil` for no limit.
    public func violation(now: Int64, leeway: Int64, maximumLifetime: Int64? = nil) -> Violation? {
        guard Self.isNumericDate(exp) else { return .outOfRange(claim: "exp") }
        if let nbf, !Self.isNumericDate(nbf) { return .outOfRange(claim: "nbf") }
        if let iat, !Self.isNumericDate(iat) { return .outOfRange(claim: "iat") }
        // Every operand is now in 0...latest (about 2^38) and the leeway and
        // lifetime are clamped, so no sum or difference below can overflow.
        let now = min(max(now, 0), Self.latest)
        let leeway = min(max(leeway, 0), 3600)
        if now >= exp + leeway { return .expired }
        if let nbf, now < nbf - leeway { return .notYetValid }
        if let iat, now < iat - leeway { return .issuedInFuture }
        if let maximumLifetime {
            let maximum = min(max(maximumLifetime, 0), Self.latest)
            if exp - now > maximum + leeway { return .lifetimeTooLong(maximum: maximum) }
        }
        return nil
    }
}

extension JSONValue {
    /// An integer NumericDate in ``TimeClaims/range``; `nil` for anything else
    /// (a fraction, an exponent, a string, a number out of range).
    public var numericDate: Int64? {
        guard let value = int64, TimeClaims.isNumericDate(value) else { return nil }
        return value
    }
}
