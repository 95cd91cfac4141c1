import Foundation
import TesseraJOSE
import Testing

/// The one time policy (`TimeClaims`): bounds first, then the checks, with no
/// arithmetic that any claim value can overflow.
@Suite struct TimeClaimsTests {
    static let now: Int64 = 1_800_000_000

    @Test(arguments: [Int64.max, Int64.min, -1, TimeClaims.latest + 1])
    func aNumberOutsideTheDateRangeIsOutOfRangeInEveryClaim(_ value: Int64) {
        #expect(TimeClaims(exp: value).violation(now: Self.now, leeway: 30) == .outOfRange(claim: "exp"))
        #expect(TimeClaims(exp: Self.now + 60, nbf: value).violation(now: Self.now, leeway: 30) == .outOfRange(claim: "nbf"))
        #expect(TimeClaims(exp: Self.now + 60, iat: value).violation(now: Self.now, leeway: 30) == .outOfRange(claim: "iat"))
        #expect(TimeClaims(exp: value).violation(now: Self.now, leeway: .max, maximumLifetime: .max) == .outOfRange(claim: "exp"))
    }

    @Test func theEdgesOfEachCheckFallWhereTheLeewaySays() {
        let leeway: Int64 = 30
        func check(_ claims: TimeClaims, lifetime: Int64? = nil) -> TimeClaims.Violation? {
            claims.violation(now: Self.now, leeway: leeway, maximumLifetime: lifetime)
        }
        #expect(check(TimeClaims(exp: Self.now - leeway + 1)) == nil)
        #expect(check(TimeClaims(exp: Self.now - leeway)) == .expired)
        #expect(check(TimeClaims(exp: Self.now + 60, nbf: Self.now + leeway)) == nil)
        #expect(check(TimeClaims(exp: Self.now + 60, nbf: Self.now + leeway + 1)) == .notYetValid)
        #expect(check(TimeClaims(exp: Self.now + 60, iat: Self.now + leeway)) == nil)
        #expect(check(TimeClaims(exp: Self.now + 60, iat: Self.now + leeway + 1)) == .issuedInFuture)
        #expect(check(TimeClaims(exp: Self.now + 3600 + leeway), lifetime: 3600) == nil)
        #expect(check(TimeClaims(exp: Self.now + 3600 + leeway + 1), lifetime: 3600) == .lifetimeTooLong(maximum: 3600))
        #expect(check(TimeClaims(exp: TimeClaims.latest), lifetime: 3600) == .lifetimeTooLong(maximum: 3600))
        #expect(check(TimeClaims(exp: TimeClaims.latest)) == nil)
        #expect(check(TimeClaims(exp: 0)) == .expired)
    }

    @Test func extremeLeewaysNowsAndLifetimesAreClampedNotTrapped() {
        let claims = TimeClaims(exp: TimeClaims.latest, nbf: 0, iat: 0)
        // `now` is clamped to the last date, where a token expiring then is still valid...
        #expect(claims.violation(now: .max, leeway: .max, maximumLifetime: .max) == nil)
        // ...and one that expired an hour (the largest leeway) and a second before is not.
        #expect(TimeClaims(exp: TimeClaims.latest - 3601).violation(now: .max, leeway: .max) == .expired)
        #expect(claims.violation(now: .min, leeway: .min, maximumLifetime: .min) == .lifetimeTooLong(maximum: 0))
        #expect(TimeClaims.seconds(Date(timeIntervalSince1970: .infinity)) == TimeClaims.latest)
        #expect(TimeClaims.seconds(Date(timeIntervalSince1970: -.infinity)) == 0)
        #expect(TimeClaims.seconds(Date(timeIntervalSince1970: .nan)) == 0)
        #expect(TimeClaims.seconds(Date(timeIntervalSince1970: 1e300)) == TimeClaims.latest)
        #expect(TimeClaims.seconds(Date(timeIntervalSince1970: 1_800_000_000.9)) == 1_800_000_000)
    }

    /// Access-token claims out of the date range are malformed where they are read,
    /// so no caller ever holds one.
    @Test(arguments: ["9223372036854775807", "9223372036854775808", "-1", "253402300800", "1.0", "1e3", "\"1800000000\""])
    func accessTokenClaimsRefuseTimesOutOfRange(_ exp: String) throws {
        let json = #"{"iss":"i","sub":"s","aud":"a","exp":\#(exp),"iat":1800000000,"jti":"j","client_id":"c"}"#
        #expect(throws: JOSEError.self) { try AccessTokenClaims(json: Array(json.utf8)) }
        let valid = #"{"iss":"i","sub":"s","aud":"a","exp":1800000600,"iat":1800000000,"jti":"j","client_id":"c"}"#
        #expect(try AccessTokenClaims(json: Array(valid.utf8)).times == TimeClaims(exp: 1_800_000_600, nbf: 1_800_000_000, iat: 1_800_000_000))
    }

    @Test func theAccessTokenTypeIsAtJWTInEitherSpellingAndAnyCase() {
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"] {
            #expect(AccessTokenClaims.isAccessTokenType(typ), "\(typ)")
        }
        for typ in [nil, "", "JWT", "jwt", "application/jwt", "at+jwt ", "application/at+jwt;x=y"] as [String?] {
            #expect(!AccessTokenClaims.isAccessTokenType(typ), "\(String(describing: typ))")
        }
    }
}
