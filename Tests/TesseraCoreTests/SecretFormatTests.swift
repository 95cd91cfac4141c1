import Foundation
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import Testing

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
        #expect(
            SecretFormat.digest("abc").map { String(format: "%02x", $0) }.joined()
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
