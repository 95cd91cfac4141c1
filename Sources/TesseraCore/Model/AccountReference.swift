import Foundation

/// A service account as some API names it. One account has many faces, and each
/// resolves it everywhere: the native API and every seed dialect accept any of
/// them where an account id is expected.
public enum AccountReference: Sendable, Hashable {
    /// The account's id: as a UUID, Rezolve's `sa-<uuid>`, or Keycard's 26
    /// Crockford base32 characters.
    case id(UUID)
    /// The account's integer number (Mixpanel's and Qualytics' ids).
    case number(Int)
    /// The account's name, unique in its tenant (Qualytics' `<name>@service`).
    case name(String)
    /// The account holding the secret or API token with this id (APIs that address
    /// a credential without its account, as Qualytics' tokens and Ctrl Hub's keys).
    case holdingSecret(UUID)

    /// The reference a path segment names, or `nil` when it names no account in
    /// any API's form. Names are recognised only in Qualytics' `…@service` form:
    /// any other text could be mistaken for one of the ids.
    public init?(_ text: String) {
        if let id = UUID(uuidString: text) {
            self = .id(id)
        } else if text.hasPrefix("sa-"), let id = UUID(uuidString: String(text.dropFirst(3))) {
            self = .id(id)
        } else if text.utf8.count == 26, let id = Crockford32.decodeUUID(text) {
            self = .id(id)
        } else if !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let number = Int(text), number > 0
        {
            self = .number(number)
        } else if text.hasSuffix("@service"), text.utf8.count > 8, text.utf8.count <= 100 {
            self = .name(text)
        } else {
            return nil
        }
    }
}

extension Crockford32 {
    /// The UUID whose 26-character form (``encode(_:)-(UUID)``) `text` is, in
    /// either case; `nil` for anything else, including a first character above 7
    /// (more than 128 bits) and the letters I, L, O and U, which the alphabet
    /// leaves out.
    public static func decodeUUID(_ text: String) -> UUID? {
        let characters = Array(text.utf8)
        guard characters.count == 26 else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0
        for (index, character) in characters.enumerated() {
            guard let value = value(of: character) else { return nil }
            if index == 0, value > 7 { return nil }
            // Shift the 128-bit (high, low) left by 5 and add the digit.
            high = high << 5 | low >> 59
            low = low << 5 | UInt64(value)
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 {
            bytes[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(index)))
            bytes[8 + index] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(index)))
        }
        return bytes.withUnsafeBytes { raw in UUID(uuid: raw.load(as: uuid_t.self)) }
    }

    private static func value(of character: UInt8) -> UInt8? {
        let upper = character >= UInt8(ascii: "a") && character <= UInt8(ascii: "z") ? character - 32 : character
        switch upper {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return upper - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "H"): return upper - UInt8(ascii: "A") + 10
        case UInt8(ascii: "J"), UInt8(ascii: "K"): return upper - UInt8(ascii: "J") + 18
        case UInt8(ascii: "M"), UInt8(ascii: "N"): return upper - UInt8(ascii: "M") + 20
        case UInt8(ascii: "P")...UInt8(ascii: "T"): return upper - UInt8(ascii: "P") + 22
        case UInt8(ascii: "V")...UInt8(ascii: "Z"): return upper - UInt8(ascii: "V") + 27
        default: return nil
        }
    }
}
