import Foundation
import FuzzerDriver
import TesseraJOSE

/// fuzz-json: TesseraJOSE's strict `JSONValue.parse` and `AccessTokenClaims(json:)`.
///
/// Oracles besides "nothing traps":
/// - what `JSONValue.parse` accepts, Foundation's `JSONSerialization` accepts too,
///   as the same value (same members, elements and strings, byte for byte; numbers
///   by their value). The reverse need not hold: the parser refuses duplicate
///   member names and nesting deeper than 32. The one accepted difference:
///   Foundation refuses a number beyond `Double`'s range (`1e999`), which RFC 8259
///   §6 lets a parser do and JSONValue, keeping a number's text, need not do.
/// - what `AccessTokenClaims(json:)` accepts, `JSONDecoder` decodes into the same claims.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let value = try? JSONValue.parse(bytes) {
        do {
            let foundation = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            require(same(value, foundation), "JSONSerialization reads the same value")
        } catch {
            require(hasNumberBeyondDouble(value), "JSONSerialization accepts what JSONValue.parse accepts (\(error))")
        }
    }
    if let claims = try? AccessTokenClaims(json: bytes) {
        let decoded = try? JSONDecoder().decode(AccessTokenClaims.self, from: Data(bytes))
        require(decoded == claims, "JSONDecoder reads the same claims")
    }
    return 0
}

/// Whether `foundation`, as `JSONSerialization` gives it, is `value`.
func same(_ value: JSONValue, _ foundation: Any) -> Bool {
    switch value {
    case .object(let members):
        guard let other = foundation as? [String: Any], other.count == members.count else { return false }
        return members.allSatisfy { name, member in other[name].map { same(member, $0) } ?? false }
    case .array(let elements):
        guard let other = foundation as? [Any], other.count == elements.count else { return false }
        return zip(elements, other).allSatisfy { same($0, $1) }
    case .string(let string):
        guard let other = foundation as? String else { return false }
        return Array(other.utf8) == Array(string.utf8)
    case .number(let text):
        guard let other = foundation as? NSNumber, !isBoolean(other) else { return false }
        if let integer = value.int64 { return other.int64Value == integer || other.doubleValue == Double(integer) }
        guard let expected = Double(text) else { return false }
        let actual = other.doubleValue
        return actual == expected || abs(actual - expected) <= 1e-9 * max(abs(actual), abs(expected))
            || (abs(actual) < 1e-300 && abs(expected) < 1e-300)
    case .bool(let bool):
        guard let other = foundation as? NSNumber, isBoolean(other) else { return false }
        return other.boolValue == bool
    case .null:
        return foundation is NSNull
    }
}

/// `JSONSerialization` gives `true` and `false` as NSNumbers of type `c` (char).
func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

func hasNumberBeyondDouble(_ value: JSONValue) -> Bool {
    switch value {
    case .object(let members): members.values.contains(where: hasNumberBeyondDouble)
    case .array(let elements): elements.contains(where: hasNumberBeyondDouble)
    case .number(let text): !(Double(text)?.isFinite ?? false)
    case .string, .bool, .null: false
    }
}

@main enum FuzzJSONMain {
    static func main() {
        exit(tessera_fuzzer_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzJSON))
    }
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("oracle failed: \(message())") }
}
