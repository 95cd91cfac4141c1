import Foundation
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import Testing

@Suite struct TokenRateLimiterTests {
    @Test func bucketAllowsABurstThenRefillsAtTheRate() {
        let limiter = TokenRateLimiter(rate: 2, burst: 3)
        let account = UUID(), other = UUID()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        for _ in 0..<3 { #expect(limiter.take(account, now: now) == nil) }
        #expect(limiter.take(account, now: now) == 0.5)
        #expect(limiter.take(other, now: now) == nil)
        #expect(limiter.take(account, now: now.addingTimeInterval(0.5)) == nil)
        #expect(limiter.take(account, now: now.addingTimeInterval(0.5)) == 0.5)
        for _ in 0..<3 { #expect(limiter.take(account, now: now.addingTimeInterval(10)) == nil) }
        #expect(limiter.take(account, now: now.addingTimeInterval(10)) != nil)
    }
}
