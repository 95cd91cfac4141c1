import Foundation
import Testing
import TesseraCore
import TesseraJOSE
import TesseraSQLite

@Suite struct SecretFormatTests {
    @Test func secretHasPrefixLengthAndValidChecksum() throws {
        let secret = SecretFormat.make(randomBytes: Dependencies.live.randomBytes(32))
        #expect(secret.hasPrefix("tss_"))
        #expect(secret.count == 53)
        #expect(secret.wholeMatch(of: try Regex(SecretFormat.pattern)) != nil)
        #expect(SecretFormat.isWellFormed(secret))
        #expect(SecretFormat.hint(secret) == "tss_…" + secret.suffix(4))
    }

    @Test func extremeRandomValuesStillFitTheFormat() {
        for byte: UInt8 in [0x00, 0xFF] {
            let secret = SecretFormat.make(randomBytes: Array(repeating: byte, count: 32))
            #expect(secret.count == 53)
            #expect(SecretFormat.isWellFormed(secret))
        }
    }

    @Test func anyChangedCharacterBreaksTheChecksum() {
        let secret = Array(SecretFormat.make(randomBytes: Array(repeating: 42, count: 32)))
        for index in 4..<secret.count {
            var changed = secret
            changed[index] = changed[index] == "a" ? "b" : "a"
            #expect(!SecretFormat.isWellFormed(String(changed)), "position \(index)")
        }
    }

    @Test func checksumDigitsMustSpellTheCRCExactly() {
        let secret = SecretFormat.make(randomBytes: Array(repeating: 42, count: 32))
        let body = secret.prefix(47)
        // Six base62 digits reach past 32 bits; the largest is no CRC-32.
        #expect(!SecretFormat.isWellFormed(body + "zzzzzz"))
        #expect(!SecretFormat.isWellFormed(body + "00000!"))
        #expect(!SecretFormat.isWellFormed(body + "00000"))
        #expect(!SecretFormat.isWellFormed("tsx_" + secret.dropFirst(4)))
        // The checksum spelt as make spells it is accepted, a neighbour is not.
        #expect(SecretFormat.isWellFormed(body + secret.suffix(6)))
        let last = secret.last!
        #expect(!SecretFormat.isWellFormed(body + secret.suffix(6).dropLast() + (last == "0" ? "1" : "0")))
    }

    @Test func digestIsSHA256OfTheSecret() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        #expect(SecretFormat.digest("abc").map { String(format: "%02x", $0) }.joined()
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// A value computed outside this code, so the format is pinned and not only
    /// consistent with itself. With Python's standard library:
    ///
    ///     import zlib
    ///     A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    ///     def b62(n, w):
    ///         s = ""
    ///         while n: n, r = divmod(n, 62); s = A[r] + s
    ///         return s.rjust(w, "0")
    ///     body = "tss_" + b62(int.from_bytes(bytes([0x2A] * 32), "big"), 43)
    ///     print(body + b62(zlib.crc32(body.encode()), 6))
    ///
    /// The 32 bytes of 0x2A read as one big-endian number in base62 give the 43
    /// characters after the prefix; zlib's CRC-32 of those 47 characters is
    /// 0x6F73C90A, in six base62 digits `22XjlS`.
    @Test func aKnownSecretMatchesTheValueZlibsCRC32Gives() {
        let secret = SecretFormat.make(randomBytes: Array(repeating: 0x2A, count: 32))
        #expect(secret == "tss_9zuQWWzsuUItctynUYyncDlKI5ZTuPizoWXgXaviRS622XjlS")
        #expect(SecretFormat.isWellFormed("tss_9zuQWWzsuUItctynUYyncDlKI5ZTuPizoWXgXaviRS622XjlS"))
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
    }

    @Test func constantTimeEqualityOfEmptyAndOfDifferentLengths() {
        let empty: [UInt8] = []
        #expect(ConstantTime.equals(empty, empty))
        #expect(!ConstantTime.equals(empty, [0]))
        #expect(!ConstantTime.equals([0], empty))
        // A prefix is not equal, whichever side is longer, even when the extra bytes are zero.
        #expect(!ConstantTime.equals([1, 2], [1, 2, 0]))
        #expect(!ConstantTime.equals([1, 2, 0], [1, 2]))
        // Digests of one size: a difference in the first or the last byte alone counts.
        let digest = SecretFormat.digest("abc")
        var first = digest, last = digest
        first[0] ^= 0x01
        last[31] ^= 0x80
        #expect(ConstantTime.equals(digest, SecretFormat.digest("abc")))
        #expect(!ConstantTime.equals(digest, first))
        #expect(!ConstantTime.equals(digest, last))
        #expect(!ConstantTime.equals(digest, digest.dropLast()))
    }
}

@Suite struct MasterKeyTests {
    func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tessera-keys-\(UUID().uuidString)").path
    }

    @Test func createsKeyFileWithMode0600AndReadsItBack() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let created = try MasterKey.load(keysDirectory: directory, environmentValue: nil)
        let path = directory + "/master.key"
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        let loaded = try MasterKey.load(keysDirectory: directory, environmentValue: nil)
        #expect(loaded.text == created.text)
        #expect(Data(base64Encoded: created.text)?.count == 32)
    }

    @Test func environmentValueWinsAndCreatesNoFile() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let text = Data(repeating: 1, count: 32).base64EncodedString()
        #expect(try MasterKey.load(keysDirectory: directory, environmentValue: text).text == text)
        #expect(!FileManager.default.fileExists(atPath: directory + "/master.key"))
    }

    @Test func groupReadableKeyFileIsRefused() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try MasterKey.load(keysDirectory: directory, environmentValue: nil)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: directory + "/master.key")
        #expect(throws: MasterKeyError.self) { try MasterKey.load(keysDirectory: directory, environmentValue: nil) }
    }

    @Test func wrongLengthAndNonBase64AreRefused() {
        #expect(throws: MasterKeyError.self) { try MasterKey(text: Data(repeating: 1, count: 16).base64EncodedString()) }
        #expect(throws: MasterKeyError.self) { try MasterKey(text: "not base64!") }
    }

    @Test func sealedDataOpensOnlyWithTheSameKeyAndContext() throws {
        let key = MasterKey.generate()
        let sealed = try key.seal([1, 2, 3], context: "kid-1")
        #expect(try key.unseal(sealed, context: "kid-1") == [1, 2, 3])
        #expect(throws: MasterKeyError.self) { try key.unseal(sealed, context: "kid-2") }
        #expect(throws: MasterKeyError.self) { try MasterKey.generate().unseal(sealed, context: "kid-1") }
    }
}

@Suite struct KeyRingTests {
    @Test(arguments: JWSAlgorithm.allCases)
    func firstStartGeneratesOneEncryptedKeyAndLaterStartsReuseIt(_ algorithm: JWSAlgorithm) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-ring-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let storage = try SQLiteStorage(path: directory.appendingPathComponent("db.sqlite").path)
        let master = MasterKey.generate()
        let first = try await KeyRing(storage: storage, masterKey: master).load(generating: algorithm, now: Date())
        let second = try await KeyRing(storage: storage, masterKey: master).load(generating: algorithm, now: Date())
        #expect(first.active.keyID == second.active.keyID)
        #expect(first.active.algorithm == algorithm)
        let stored = try await storage.signingKeys()
        #expect(stored.count == 1)
        #expect(stored[0].state == .active)
        // The private key is not in the row in clear.
        let plain = first.active.privateKeyBytes
        #expect(stored[0].sealedPrivateKey.count == plain.count + 28)
        #expect(!stored[0].sealedPrivateKey.contains(plain))
        #expect(first.published.map(\.kid) == [first.active.keyID])
        #expect(!first.published[0].isPrivate)
    }

    @Test func anotherMasterKeyCannotOpenTheStoredKey() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-ring-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let storage = try SQLiteStorage(path: directory.appendingPathComponent("db.sqlite").path)
        try await KeyRing(storage: storage, masterKey: .generate()).load(generating: .es256, now: Date())
        let other = KeyRing(storage: storage, masterKey: .generate())
        await #expect(throws: MasterKeyError.self) { try await other.load(generating: .es256, now: Date()) }
        #expect(other.snapshot == nil)
    }
}

extension Array where Element == UInt8 {
    func contains(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}

@Suite struct RandomnessTests {
    @Test(arguments: [0, 1, 7, 8, 9, 16, 32, 33])
    func liveRandomBytesHaveTheAskedLength(_ count: Int) {
        #expect(Dependencies.live.randomBytes(count).count == count)
    }

    @Test func liveRandomBytesDiffer() {
        #expect(Dependencies.live.randomBytes(32) != Dependencies.live.randomBytes(32))
    }

    @Test func uuidsAreVersion4() {
        let text = Dependencies.live.uuid().uuidString
        #expect(Array(text)[14] == "4")
        #expect("89AB".contains(Array(text)[19]))
    }
}

@Suite struct KeyRotationTests {
    @Test func rotationPublishesFirstThenSignsThenRetires() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let ring = harness.tessera.keyRing
        let original = try #require(ring.snapshot?.active.keyID)

        // 1. A next key is published, but the old one still signs.
        let scheduled = try await ring.rotate(algorithm: .eddsa, publishAhead: 310, now: harness.clock.now)
        guard case .scheduled(let next, let activatesAt) = scheduled else { Issue.record("expected scheduled, got \(scheduled)"); return }
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
        let client = try await harness.tessera.tokens.authenticate(clientID: created.account.clientID, secret: created.clientSecret)
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
        guard case .scheduled(let next, _) = first.first else { Issue.record("expected a scheduled rotation, got \(first)"); return }
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
