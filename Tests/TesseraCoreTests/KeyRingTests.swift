import Foundation
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import Testing

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
