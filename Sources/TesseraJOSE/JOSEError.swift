/// Why a JOSE operation failed.
///
/// An extensible error: new reasons can be added without breaking callers that
/// compare against the static members.
public struct JOSEError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case malformed
        case unsupportedAlgorithm
        case algorithmMismatch
        case unknownKeyID
        case invalidSignature
        case invalidKey
        case tooLarge
    }

    private let code: Code
    /// A human-readable explanation; never contains key material.
    public let reason: String

    private init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public static func malformed(_ reason: String) -> JOSEError { JOSEError(.malformed, reason) }
    public static func unsupportedAlgorithm(_ reason: String) -> JOSEError { JOSEError(.unsupportedAlgorithm, reason) }
    public static func algorithmMismatch(_ reason: String) -> JOSEError { JOSEError(.algorithmMismatch, reason) }
    public static func unknownKeyID(_ reason: String) -> JOSEError { JOSEError(.unknownKeyID, reason) }
    public static func invalidSignature(_ reason: String) -> JOSEError { JOSEError(.invalidSignature, reason) }
    public static func invalidKey(_ reason: String) -> JOSEError { JOSEError(.invalidKey, reason) }
    public static func tooLarge(_ reason: String) -> JOSEError { JOSEError(.tooLarge, reason) }

    /// True when both errors have the same kind, whatever their reasons say.
    public func isSameKind(as other: JOSEError) -> Bool { code == other.code }

    public var isMalformed: Bool { code == .malformed || code == .tooLarge }
    public var isUnknownKeyID: Bool { code == .unknownKeyID }
    public var isInvalidSignature: Bool { code == .invalidSignature }
    public var isAlgorithmMismatch: Bool { code == .algorithmMismatch || code == .unsupportedAlgorithm }

    public var description: String { reason }
}
