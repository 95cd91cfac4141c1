import Foundation
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import Testing

/// The database holds digests and sealed keys only (docs/threat_model.md): client
/// secrets as their SHA-256 digest, signing private keys sealed under the master
/// key. Checked on the bytes SQLite wrote (docs/testing.md): the database file and
/// its write-ahead log, read as plain files while the store is open, not through
/// the store's decoder.
@Suite struct RawStorageTests {
    struct Files {
        let directory: URL
        var database: URL { directory.appendingPathComponent("tessera.sqlite") }
        var log: URL { directory.appendingPathComponent("tessera.sqlite-wal") }

        /// Both files' bytes, after checking that both exist (in WAL mode a fresh
        /// commit sits in the log until a checkpoint copies it to the file).
        func bytes() throws -> (database: [UInt8], log: [UInt8]) {
            #expect(FileManager.default.fileExists(atPath: database.path))
            #expect(FileManager.default.fileExists(atPath: log.path))
            return (Array(try Data(contentsOf: database)), Array(try Data(contentsOf: log)))
        }
    }

    static func tessera(_ algorithm: JWSAlgorithm = .es256) async throws -> (Tessera, Files) {
        let files = Files(directory: FileManager.default.temporaryDirectory.appendingPathComponent("tessera-raw-\(UUID().uuidString)"))
        let storage = try SQLiteStorage(path: files.database.path)
        let tessera = Tessera(issuer: "https://issuer.example", storage: storage, masterKey: .generate())
        try await tessera.start(signingAlgorithm: algorithm)
        return (tessera, files)
    }

    /// Whether `needle` occurs in either file (a Bool, so a failure does not print the files).
    static func onDisk(_ files: (database: [UInt8], log: [UInt8]), _ needle: some Collection<UInt8>) -> Bool {
        contains(files.database, needle) || contains(files.log, needle)
    }

    static func contains(_ haystack: [UInt8], _ needle: some Collection<UInt8>) -> Bool {
        let needle = Array(needle)
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var index = 0
        while index <= haystack.count - needle.count {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }

    @Test func aCreatedAccountsSecretIsOnDiskOnlyAsItsDigest() async throws {
        let (tessera, files) = try await Self.tessera()
        defer { try? FileManager.default.removeItem(at: files.directory) }
        let tenant = try await tessera.tenants.create(slug: "acme")
        let created = try await tessera.accounts.create(in: tenant, NewServiceAccount(name: "billing"), by: .bootstrap)
        let extra = try await tessera.accounts.createSecret(for: created.account.id, in: tenant, NewClientSecret(name: "second"), by: .bootstrap)
        let bytes = try files.bytes()
        for (name, secret) in [("default", created.issuedSecret), ("second", extra.clientSecret)] {
            // The digest is written (so the scan does see the secrets' rows)...
            let digestOnDisk = Self.onDisk(bytes, SecretFormat.digest(secret))
            #expect(digestOnDisk, "digest of \(name)")
            // ...the secret is not, nor its 43 random characters without prefix and checksum.
            let secretOnDisk = Self.onDisk(bytes, Array(secret.utf8))
            let randomOnDisk = Self.onDisk(bytes, Array(secret.dropFirst(SecretFormat.prefix.count).prefix(43).utf8))
            #expect(!secretOnDisk, "secret \(name)")
            #expect(!randomOnDisk, "random part of \(name)")
        }
        // The account's row itself is there too: its client id.
        let clientIDOnDisk = Self.onDisk(bytes, Array(created.account.clientID.utf8))
        #expect(clientIDOnDisk)
    }

    /// The private key's bytes as SigningKey stores them (the raw scalar for P-256 and
    /// Ed25519, which is the JWK's `d` decoded, RFC 7518 §6.2.2.1 and RFC 8037 §2;
    /// PKCS #1 DER for RSA), and their base64url and base64 text.
    @Test(arguments: [JWSAlgorithm.es256, .eddsa, .rs256])
    func aGeneratedSigningKeyIsOnDiskOnlySealed(_ algorithm: JWSAlgorithm) async throws {
        let (tessera, files) = try await Self.tessera(algorithm)
        defer { try? FileManager.default.removeItem(at: files.directory) }
        let active = try #require(tessera.keyRing.snapshot?.active)
        let stored = try #require(try await tessera.storage.signingKeys().first { $0.kid == active.keyID })
        let bytes = try files.bytes()
        // The key's row is on disk: its kid and its sealed (encrypted) private key.
        let kidOnDisk = Self.onDisk(bytes, Array(active.keyID.utf8))
        let sealedOnDisk = Self.onDisk(bytes, stored.sealedPrivateKey)
        #expect(kidOnDisk)
        #expect(sealedOnDisk)
        let secret = active.privateKeyBytes
        let forms: [(String, [UInt8])] = [
            ("raw bytes", secret), ("base64url (the JWK's d)", Array(Base64URL.encode(secret).utf8)),
            ("base64", Array(Data(secret).base64EncodedString().utf8)),
        ]
        for (name, form) in forms {
            let privateKeyOnDisk = Self.onDisk(bytes, form)
            #expect(!privateKeyOnDisk, "private key as \(name)")
        }
    }
}
