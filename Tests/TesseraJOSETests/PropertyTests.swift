import Foundation
import TesseraJOSE
import TesseraTestSupport
import Testing

/// Property tests: thousands of generated cases per property, from a seeded
/// generator so that a failure reproduces. Every run draws a new seed unless
/// `TESSERA_PROPERTY_SEED` gives one; a failure message names the seed.
@Suite struct PropertyTests {
    // MARK: Base64URL

    @Test func base64URLRoundTripsRandomBytes() async {
        var random = SeededRandom()
        for index in 0..<5_000 {
            await yieldNowAndThen(index)
            let bytes = random.bytes(count: Int.random(in: 0...48, using: &random))
            let encoded = Base64URL.encode(bytes)
            #expect(encoded.utf8.allSatisfy { Self.urlSafe.contains($0) }, "\(random.seed): \(encoded) is unpadded base64url")
            #expect(encoded.utf8.count == (bytes.count * 4 + 2) / 3, "\(random.seed): \(encoded) has the unpadded length")
            #expect(Base64URL.decode(encoded) == bytes, "\(random.seed): \(bytes) round-trips through \(encoded)")
        }
    }

    /// Decoding agrees with Foundation's `Data(base64Encoded:)` once the URL-safe
    /// alphabet is mapped to the standard one and the padding added: what Foundation
    /// refuses is refused, what it reads is read the same, except an encoding whose
    /// unused trailing bits are not zero, which Foundation reads and Base64URL refuses.
    @Test func base64URLDecodingAgreesWithFoundation() async {
        var random = SeededRandom()
        let others = Array("+/= \n.\u{00E9}%".utf8)
        var accepted = 0
        for index in 0..<20_000 {
            await yieldNowAndThen(index)
            let length = Int.random(in: 0...14, using: &random)
            let text: [UInt8] = (0..<length).map { _ in
                Int.random(in: 0..<40, using: &random) == 0 ? others.randomElement(using: &random)! : Self.urlSafe.randomElement(using: &random)!
            }
            let string = String(decoding: text, as: UTF8.self)
            let decoded = Base64URL.decode(string)
            guard text.allSatisfy({ Self.urlSafe.contains($0) }) else {
                #expect(decoded == nil, "\(random.seed): \(string) has a character outside base64url")
                continue
            }
            let standard = String(string.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 }) + String(repeating: "=", count: (4 - length % 4) % 4)
            guard let foundation = Data(base64Encoded: standard).map(Array.init) else {
                #expect(decoded == nil, "\(random.seed): Foundation refuses \(standard), so must Base64URL refuse \(string)")
                continue
            }
            if Base64URL.encode(foundation) == string {
                #expect(decoded == foundation, "\(random.seed): \(string) decodes as Foundation decodes \(standard)")
                accepted += 1
            } else {
                #expect(decoded == nil, "\(random.seed): \(string) has non-zero trailing bits")
            }
        }
        #expect(accepted > 1_000, "\(random.seed): the generator makes valid encodings often enough")
    }

    @Test func base64URLRefusesNonCanonicalTrailingBits() async {
        var random = SeededRandom()
        for index in 0..<5_000 {
            await yieldNowAndThen(index)
            // One or two bytes past a multiple of three leave 4 or 2 unused bits in the last character.
            let bytes = random.bytes(count: 3 * Int.random(in: 0...8, using: &random) + Int.random(in: 1...2, using: &random))
            var encoded = Array(Base64URL.encode(bytes).utf8)
            let unusedBits = bytes.count % 3 == 1 ? 4 : 2
            let last = Self.urlSafe.firstIndex(of: encoded[encoded.count - 1])!
            let noise = Int.random(in: 1..<(1 << unusedBits), using: &random)
            encoded[encoded.count - 1] = Self.urlSafe[last | noise]
            let string = String(decoding: encoded, as: UTF8.self)
            #expect(Base64URL.decode(string) == nil, "\(random.seed): \(string) has non-zero trailing bits")
            // Foundation ignores those bits, and reads the same bytes.
            let standard = String(string.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 }) + String(repeating: "=", count: (4 - encoded.count % 4) % 4)
            #expect(Data(base64Encoded: standard).map(Array.init) == bytes, "\(random.seed): Foundation reads \(standard)")
        }
    }

    private static let urlSafe = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    // MARK: JSONValue.parse

    /// Random documents written by `JSONSerialization` are read as the values they
    /// were made from.
    @Test func jsonParserReadsWhatJSONSerializationWrites() async throws {
        var random = SeededRandom()
        for index in 0..<3_000 {
            await yieldNowAndThen(index)
            // Every hundredth document may nest as deep as the parser allows.
            let value = random.jsonValue(depth: index % 100 == 0 ? 32 : Int.random(in: 0...6, using: &random))
            var options: JSONSerialization.WritingOptions = [.fragmentsAllowed]
            if Bool.random(using: &random) { options.insert(.prettyPrinted) }
            if Bool.random(using: &random) { options.insert(.sortedKeys) }
            if Bool.random(using: &random) { options.insert(.withoutEscapingSlashes) }
            let data = try JSONSerialization.data(withJSONObject: value.foundation, options: options)
            let text = String(decoding: data, as: UTF8.self)
            do {
                let parsed = try JSONValue.parse(Array(data))
                #expect(value.matches(parsed), "\(random.seed): \(text) is read as \(parsed)")
            } catch {
                Issue.record("\(random.seed): \(text) is refused at offset \(error.offset)")
            }
        }
    }

    @Test func jsonParserAcceptsNestingToThirtyTwoOnly() async throws {
        var random = SeededRandom()
        for index in 0..<200 {
            await yieldNowAndThen(index)
            let depth = Int.random(in: 1...40, using: &random)
            var value = random.jsonValue(depth: 0)
            for _ in 0..<depth { value = Bool.random(using: &random) ? .array([value]) : .object([random.jsonString(): value]) }
            let data = Array(try JSONSerialization.data(withJSONObject: value.foundation, options: [.fragmentsAllowed]))
            if depth <= 32 {
                #expect(value.matches(try JSONValue.parse(data)), "\(random.seed): depth \(depth)")
            } else {
                #expect(throws: JSONValue.Malformed.self, "\(random.seed): depth \(depth)") { try JSONValue.parse(data) }
            }
        }
    }

    /// A member name given twice is refused, however it is written and wherever the
    /// object sits.
    @Test func jsonParserRefusesEveryDuplicateMemberName() async throws {
        var random = SeededRandom()
        for index in 0..<3_000 {
            await yieldNowAndThen(index)
            var members: [(name: String, json: String)] = []
            for _ in 0..<Int.random(in: 1...5, using: &random) {
                let name = random.jsonString()
                guard !members.contains(where: { $0.name == name }) else { continue }
                members.append((name, try Self.json(random.jsonValue(depth: 2))))
            }
            let repeated = members.randomElement(using: &random)!
            // The repeated name written as JSONSerialization writes it, or with every
            // UTF-16 unit as a \u escape (surrogate pairs beyond the BMP).
            let spelling = Bool.random(using: &random) ? try Self.json(.string(repeated.name)) : Self.escapedEverywhere(repeated.name)
            var written = try members.map { try Self.json(.string($0.name)) + ":" + $0.json }
            written.insert(spelling + ":" + (try Self.json(random.jsonValue(depth: 1))), at: Int.random(in: 0...written.count, using: &random))
            var document = "{" + written.joined(separator: ",") + "}"
            // Sometimes inside an array or another object.
            switch Int.random(in: 0..<3, using: &random) {
            case 0: document = "[1," + document + "]"
            case 1: document = #"{"outer":"# + document + "}"
            default: break
            }
            #expect(throws: JSONValue.Malformed.self, "\(random.seed): \(document) repeats \(repeated.name)") {
                try JSONValue.parse(Array(document.utf8))
            }
        }
    }

    private static func json(_ value: GeneratedJSON) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value.foundation, options: [.fragmentsAllowed]), as: UTF8.self)
    }

    private static func escapedEverywhere(_ string: String) -> String {
        "\""
            + string.utf16.map { unit in
                let hex = String(unit, radix: 16)
                return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }.joined() + "\""
    }
}

/// A generated JSON value: what it is, and what `JSONSerialization` is given to write it.
indirect enum GeneratedJSON {
    case object([String: GeneratedJSON])
    case array([GeneratedJSON])
    case string(String)
    case integer(Int64)
    /// A finite number with a fraction.
    case fraction(Double)
    case bool(Bool)
    case null

    var foundation: Any {
        switch self {
        case .object(let members): members.mapValues(\.foundation)
        case .array(let elements): elements.map(\.foundation)
        case .string(let string): string
        case .integer(let integer): NSNumber(value: integer)
        case .fraction(let fraction): NSNumber(value: fraction)
        case .bool(let bool): bool
        case .null: NSNull()
        }
    }

    /// Whether `parsed` is this value: the same members, elements and strings
    /// (scalar by scalar), numbers by their value.
    func matches(_ parsed: JSONValue) -> Bool {
        switch (self, parsed) {
        case (.object(let expected), .object(let members)):
            expected.count == members.count && members.allSatisfy { name, member in expected[name]?.matches(member) ?? false }
        case (.array(let expected), .array(let elements)):
            expected.count == elements.count && zip(expected, elements).allSatisfy { $0.matches($1) }
        case (.string(let expected), .string(let string)):
            expected.unicodeScalars.elementsEqual(string.unicodeScalars)
        case (.integer(let expected), .number):
            parsed.int64 == expected
        case (.fraction(let expected), .number(let text)):
            Double(text) == expected
        case (.bool(let expected), .bool(let bool)):
            expected == bool
        case (.null, .null):
            true
        default:
            false
        }
    }
}

/// Random JSON values: objects with unique names, arrays, strings with escapes and
/// non-ASCII, integers, fractions, booleans and null; containers nested at most
/// `depth` deep.
extension SeededRandom {
    mutating func jsonValue(depth: Int) -> GeneratedJSON {
        switch Int.random(in: 0..<(depth > 0 ? 8 : 6), using: &self) {
        case 0, 1: return .string(jsonString())
        case 2: return .integer(jsonInteger())
        case 3: return .fraction(jsonFraction())
        case 4: return .bool(Bool.random(using: &self))
        case 5: return .null
        case 6:
            // A chain of single elements now and then, so that deep documents are made.
            let count = depth > 8 && Int.random(in: 0..<3, using: &self) == 0 ? 1 : Int.random(in: 0...4, using: &self)
            return .array((0..<count).map { _ in jsonValue(depth: depth - 1) })
        default:
            var members: [String: GeneratedJSON] = [:]
            let count = depth > 8 && Int.random(in: 0..<3, using: &self) == 0 ? 1 : Int.random(in: 0...4, using: &self)
            for _ in 0..<count { members[jsonString()] = jsonValue(depth: depth - 1) }
            return .object(members)
        }
    }

    mutating func jsonString() -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...10, using: &self) {
            let scalar: UInt32 =
                switch Int.random(in: 0..<10, using: &self) {
                case 0: UInt32.random(in: 0...0x1F, using: &self)  // control characters: escaped
                case 1: [0x22, 0x5C, 0x2F, 0x7F, 0x2028, 0x2029, 0xFEFF].randomElement(using: &self)!
                case 2: UInt32.random(in: 0x80...0x7FF, using: &self)  // two UTF-8 bytes
                case 3: UInt32.random(in: 0x800...0xD7FF, using: &self)  // three, below the surrogates
                case 4: UInt32.random(in: 0xE000...0xFFFD, using: &self)  // three, above them
                case 5: UInt32.random(in: 0x10000...0x10FFFF, using: &self)  // four; a surrogate pair when escaped
                default: UInt32.random(in: 0x20...0x7E, using: &self)
                }
            scalars.append(Unicode.Scalar(scalar)!)
        }
        return String(scalars)
    }

    mutating func jsonInteger() -> Int64 {
        switch Int.random(in: 0..<4, using: &self) {
        case 0: [Int64.min, .max, 0, -1, 1, 1_800_000_000].randomElement(using: &self)!
        case 1: Int64.random(in: .min ... .max, using: &self)
        default: Int64.random(in: -100_000...100_000, using: &self)
        }
    }

    mutating func jsonFraction() -> Double {
        let value: Double =
            switch Int.random(in: 0..<3, using: &self) {
            case 0: Double.random(in: -1...1, using: &self)
            case 1: Double(bitPattern: next())  // any finite double, tiny to huge
            default: Double(Int.random(in: -1_000_000...1_000_000, using: &self)) / 1024
            }
        return value.isFinite && value.rounded() != value ? value : 0.5
    }
}
