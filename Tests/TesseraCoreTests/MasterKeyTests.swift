import Foundation
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import Testing

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
