/// Why an admin use case refused a request; the HTTP layer renders it (as RFC 9457
/// problem details in the native API, in its own shape in each dialect).
public struct DomainError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The input breaks a rule; `field` names the offending member.
        case invalidInput(field: String)
        case notFound
        case conflict
        case limitReached
        case forbidden
        case unavailable
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func invalid(_ field: String, _ message: String) -> DomainError {
        DomainError(.invalidInput(field: field), message)
    }

    public var description: String { message }
}
