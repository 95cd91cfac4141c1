import Foundation
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import Testing

@Suite struct KeyRotationTests {
    @Test func rotationPublishesFirstThenSignsThenRetires() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let ring = harness.tessera.keyRing
        let original = try #require(ring.snapshot?.active.keyID)

        // 1. A next key is published, but the old one still signs.
        let scheduled = try await ring.rotate(algorithm: .eddsa, publishAhead: 310, now: harness.clock.now)
        guard case .scheduled(let next, let activatesAt) = scheduled else {
            Issue.record("expected scheduled, got \(scheduled)")
            return
        }
        #expect(activatesAt == harness.clock.now.addingTimeInterval(310))
        var snapshot = try await ring.load(generating: nil, now: harness.clock.now)
        #expect(snapshot.active.keyID == original)
        #expect(snapshot.published.map(\.kid) == [original, next])

        // 2. Rotating again before it is due changes nothing.
        #expect(try await ring.rotate(algorithm: .eddsa, publishAhead: 310, now: harness.clock.now) == .pending(kid: next, activatesAt: activatesAt))

        // 3. Once due, the next key signs and the old one stays published, retired.
        harness.clock.advance(310)
        #expect(try await ring.rotate(algorithm: .eddsa, publishAhead: 310, now: harness.clock.now) == .promoted(kid: next))
        snapshot = try await ring.load(generating: nil, now: harness.clock.now)
        #expect(snapshot.active.keyID == next)
        #expect(snapshot.active.algorithm == .eddsa)
        #expect(Set(snapshot.published.compactMap(\.kid)) == [original, next])
        let states = Dictionary(uniqueKeysWithValues: try await harness.tessera.storage.signingKeys().map { ($0.kid, $0.state) })
        #expect(states == [original: .retired, next: .active])

        // 4. Tokens are now signed by the new key, and both verify with the published set.
        let created = try await harness.account(in: try await harness.tenant())
        let client = try await harness.tessera.tokens.authenticate(clientID: created.account.clientID, secret: created.issuedSecret)
        let token = try harness.tessera.tokens.issue(for: client, scope: nil, audiences: []).accessToken
        #expect(try CompactJWS(token).header.kid == next)
    }

    @Test func maintainPromotesRotatesOnScheduleAndForgetsOldKeys() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let ring = harness.tessera.keyRing
        let original = try #require(ring.snapshot?.active.keyID)
        let policy = KeyPolicy(algorithm: .es256, publishAhead: 60, rotationPeriod: 86_400, retirementGrace: 3_600)

        #expect(try await ring.maintain(policy, now: harness.clock.now).isEmpty)
        harness.clock.advance(86_400)
        let first = try await ring.maintain(policy, now: harness.clock.now)
        guard case .scheduled(let next, _) = first.first else {
            Issue.record("expected a scheduled rotation, got \(first)")
            return
        }
        #expect(ring.snapshot?.active.keyID == original)
        #expect(ring.snapshot?.published.compactMap(\.kid) == [original, next])

        harness.clock.advance(60)
        #expect(try await ring.maintain(policy, now: harness.clock.now) == [.promoted(kid: next)])
        #expect(ring.snapshot?.active.keyID == next)
        #expect(ring.snapshot?.verificationKeys[original] != nil)

        harness.clock.advance(3_600)
        #expect(try await ring.maintain(policy, now: harness.clock.now) == [.removed(kid: original)])
        #expect(ring.snapshot?.published.compactMap(\.kid) == [next])
        #expect(try await harness.tessera.storage.signingKeys().map(\.kid) == [next])
    }

    @Test func aNextKeyThisMasterKeyCannotOpenIsNeverPromoted() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let original = try #require(harness.tessera.keyRing.snapshot?.active.keyID)
        // Scheduled by a process holding another master key.
        let stranger = KeyRing(storage: harness.tessera.storage, masterKey: .generate())
        let next = try await stranger.rotate(algorithm: .es256, publishAhead: 600, now: harness.clock.now).kid
        harness.clock.advance(600)
        await #expect(throws: MasterKeyError.self) {
            try await harness.tessera.keyRing.rotate(algorithm: .es256, publishAhead: 600, now: harness.clock.now)
        }
        let states = Dictionary(uniqueKeysWithValues: try await harness.tessera.storage.signingKeys().map { ($0.kid, $0.state) })
        #expect(states == [original: .active, next: .next])
    }
}
