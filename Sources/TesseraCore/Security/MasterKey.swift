import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The key-encryption key: 256 bits that seal every signing private key with
/// AES-256-GCM. It never enters the database.
public struct MasterKey: Sendable {
    let key: SymmetricKey

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw MasterKeyError("the master key must be 32 bytes, got \(bytes.count)") }
        key = SymmetricKey(data: bytes)
    }

    /// Parses the text form: 32 bytes in standard base64 (what `keys/master.key` and
    /// `TESSERA_MASTER_KEY` hold). Surrounding whitespace is ignored.
    public init(text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64Encoded: trimmed) else {
            throw MasterKeyError("the master key is not base64 (expected 32 bytes in standard base64)")
        }
        try self.init(bytes: Array(data))
    }

    /// A new random master key.
    public static func generate() -> MasterKey {
        MasterKey(key: SymmetricKey(size: .bits256))
    }

    private init(key: SymmetricKey) {
        self.key = key
    }

    /// The text form: standard base64 of the 32 bytes.
    public var text: String {
        key.withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// Seals `plaintext`, binding it to `context` (authenticated, not encrypted).
    public func seal(_ plaintext: [UInt8], context: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Array(context.utf8))
        guard let combined = box.combined else { throw MasterKeyError("AES-GCM produced no combined form") }
        return Array(combined)
    }

    /// A key for `purpose` derived from this one (HKDF-SHA256), so one secret serves
    /// several uses without one use's outputs telling anything about another's.
    public func derivedKey(for purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Array(purpose.utf8), outputByteCount: 32)
    }

    /// Opens what ``seal(_:context:)`` produced; fails for another key or context.
    public func unseal(_ sealed: [UInt8], context: String) throws -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return Array(try AES.GCM.open(box, using: key, authenticating: Array(context.utf8)))
        } catch {
            throw MasterKeyError("a stored key cannot be decrypted with this master key (was the database created with another one?)")
        }
    }

    /// Loads the master key: from `environmentValue` when given, else from
    /// `keysDirectory/master.key`, creating that file (mode 0600) with a new key
    /// when it does not exist.
    public static func load(keysDirectory: String, environmentValue: String?) throws -> MasterKey {
        if let environmentValue, !environmentValue.isEmpty {
            return try MasterKey(text: environmentValue)
        }
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: keysDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = (keysDirectory as NSString).appendingPathComponent("master.key")
        if fileManager.fileExists(atPath: path) {
            let attributes = try fileManager.attributesOfItem(atPath: path)
            if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
                throw MasterKeyError("\(path) is readable by other users (mode \(String(mode, radix: 8))); run chmod 600 on it")
            }
            return try MasterKey(text: String(contentsOfFile: path, encoding: .utf8))
        }
        let key = MasterKey.generate()
        // O_EXCL: if another process created it in the meantime, read theirs instead.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if descriptor < 0 {
            if errno == EEXIST { return try MasterKey(text: String(contentsOfFile: path, encoding: .utf8)) }
            throw MasterKeyError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = Array((key.text + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0 else { throw MasterKeyError("cannot write \(path)") }
        return key
    }
}

/// A problem with the master key, explained for an operator.
public struct MasterKeyError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
