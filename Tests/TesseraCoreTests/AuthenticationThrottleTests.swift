import Foundation
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import Testing

@Suite struct AuthenticationThrottleTests {
    @Test func lockGrowsExponentiallyAndOnlyForThatAddress() {
        var policy = AuthenticationThrottle.Policy()
        policy.clientFailures = 3
        policy.addressFailures = 100
        let throttle = AuthenticationThrottle(policy: policy)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        for _ in 0..<2 { throttle.recordFailure(clientID: "tsc_a", address: "10.0.0.9", now: now) }
        #expect(throttle.retryAfter(clientID: "tsc_a", address: "10.0.0.9", now: now) == nil)
        throttle.recordFailure(clientID: "tsc_a", address: "10.0.0.9", now: now)
        #expect(throttle.retryAfter(clientID: "tsc_a", address: "10.0.0.9", now: now) == 1)
        throttle.recordFailure(clientID: "tsc_a", address: "10.0.0.9", now: now)
        #expect(throttle.retryAfter(clientID: "tsc_a", address: "10.0.0.9", now: now) == 2)
        throttle.recordFailure(clientID: "tsc_a", address: "10.0.0.9", now: now)
        #expect(throttle.retryAfter(clientID: "tsc_a", address: "10.0.0.9", now: now) == 4)
        // The same client from its own address is not locked out by the attacker.
        #expect(throttle.retryAfter(clientID: "tsc_a", address: "10.0.0.1", now: now) == nil)
        // The lock runs out.
        #expect(throttle.retryAfter(clientID: "tsc_a", address: "10.0.0.9", now: now.addingTimeInterval(4)) == nil)
        throttle.recordSuccess(clientID: "tsc_a", address: "10.0.0.9")
        throttle.recordFailure(clientID: "tsc_a", address: "10.0.0.9", now: now.addingTimeInterval(5))
        #expect(throttle.retryAfter(clientID: "tsc_a", address: "10.0.0.9", now: now.addingTimeInterval(5)) == nil)
    }

    @Test func anAddressGuessingManyClientsIsLockedForAll() {
        var policy = AuthenticationThrottle.Policy()
        policy.addressFailures = 4
        let throttle = AuthenticationThrottle(policy: policy)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        for index in 0..<4 { throttle.recordFailure(clientID: "tsc_\(index)", address: "10.0.0.9", now: now) }
        #expect(throttle.retryAfter(clientID: "tsc_new", address: "10.0.0.9", now: now) == 1)
        #expect(throttle.retryAfter(clientID: "tsc_new", address: "10.0.0.8", now: now) == nil)
    }

    @Test func lockIsCappedAndOldFailuresAreForgotten() {
        var policy = AuthenticationThrottle.Policy()
        policy.clientFailures = 1
        policy.maximumDelay = 60
        let throttle = AuthenticationThrottle(policy: policy)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        for _ in 0..<40 { throttle.recordFailure(clientID: "tsc_a", address: "x", now: now) }
        #expect(throttle.retryAfter(clientID: "tsc_a", address: "x", now: now) == 60)
        let later = now.addingTimeInterval(policy.window + 61)
        throttle.recordFailure(clientID: "tsc_a", address: "x", now: later)
        #expect(throttle.retryAfter(clientID: "tsc_a", address: "x", now: later) == 1)
    }
}
