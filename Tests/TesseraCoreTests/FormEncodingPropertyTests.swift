import Foundation
import TesseraCore
import TesseraTestSupport
import Testing

/// The form and Basic parsers (FormEncoding.swift): examples, then properties over
/// thousands of generated cases from a seeded generator. Every run draws a new seed
/// unless `TESSERA_PROPERTY_SEED` gives one; a failure message names the seed.
@Suite struct FormEncodingPropertyTests {
    // MARK: Examples

    @Test func readsAFormBody() throws {
        let form = try FormBody(Array("grant_type=client_credentials&scope=a+b%3Ac&resource=x&resource=y&empty=&flag&&=v".utf8), repeatable: ["resource"])
        #expect(form.values == ["grant_type": ["client_credentials"], "scope": ["a b:c"], "resource": ["x", "y"]])
        #expect(form["resource"] == "x")
        #expect(form.all("resource") == ["x", "y"])
        #expect(form.all("missing").isEmpty)
        #expect(throws: FormBody.ParseError.duplicate("a")) { try FormBody(Array("a=1&a=2".utf8)) }
        // "+" is a space byte by byte, even before a combining mark (with which it forms
        // one Character): fuzz-form found the oracle treating it otherwise.
        #expect(FormBody.decode(Array("+\u{061A}".utf8)) == " \u{061A}")
        #expect(FormBody.decode(Array("a+\u{0301}%2B\u{0301}".utf8)) == "a \u{0301}+\u{0301}")
        for malformed in ["a=%", "a=%4", "a=%zz", "%C3=1", "a=%00", "a=%7F", "a=b%0Ac", "a=%C3%28"] {
            #expect(throws: FormBody.ParseError.malformedEncoding, "\(malformed)") { try FormBody(Array(malformed.utf8)) }
        }
    }

    @Test func readsBasicCredentials() throws {
        func parse(_ header: String) throws(BasicCredentials.ParseError) -> BasicCredentials {
            try BasicCredentials.parse(authorization: Array(header.utf8))
        }
        #expect(try parse("Basic dXNlcjpwYXNz") == BasicCredentials(clientID: "user", secret: "pass"))
        #expect(try parse("bAsIc \t dXNlcjpwYXNz \t") == BasicCredentials(clientID: "user", secret: "pass"))
        // Split at the first colon; each side form-url-decoded (RFC 6749 §2.3.1).
        #expect(try parse("Basic " + Data("a%3Ab+c:d:e%25".utf8).base64EncodedString()) == BasicCredentials(clientID: "a:b c", secret: "d:e%"))
        #expect(try parse("Basic " + Data("id:".utf8).base64EncodedString()) == BasicCredentials(clientID: "id", secret: ""))
        for scheme in ["Bearer dXNlcjpwYXNz", "Basic", "Basicx", "Basi", ""] {
            #expect(throws: BasicCredentials.ParseError.notBasicScheme, "\(scheme)") { try parse(scheme) }
        }
        // Not padded base64, or no colon in it.
        for encoded in ["", "dXNlcjpwYXNz=", "dXNlcnBhc3M", "dXNlcnBhc3M=", "!!!!", "dXNl cjpw"] {
            #expect(throws: BasicCredentials.ParseError.malformed, "\(encoded)") { try parse("Basic " + encoded) }
        }
        // An empty id, or a side that is not well form-url-encoded.
        for plain in [":pass", "user%:pass", "user:%0A", "us%zzer:pass", "user:%C3"] {
            let header = "Basic " + Data(plain.utf8).base64EncodedString()
            #expect(throws: BasicCredentials.ParseError.malformed, "\(plain)") { try parse(header) }
        }
    }

    // MARK: Properties

    /// Random parameters, percent-encoded with `+` for spaces and hex digits in random
    /// case, are read back as they were; Foundation's URLComponents reads the same.
    @Test func formBodiesRoundTripAndAgreeWithFoundation() async throws {
        var random = SeededRandom()
        for index in 0..<3_000 {
            await yieldNowAndThen(index)
            var parameters: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &random) {
                // A parameter without a name or a value counts as not sent; FormBody's examples show it.
                parameters[random.formText(minimumLength: 1)] = random.formText(minimumLength: 1)
            }
            let body = parameters.shuffled(using: &random).map { random.formEncoded($0.key) + "=" + random.formEncoded($0.value) }
                .joined(separator: "&")
            let form: FormBody
            do {
                form = try FormBody(Array(body.utf8))
            } catch {
                Issue.record("\(random.seed): \(body) is refused: \(error)")
                continue
            }
            #expect(form.values == parameters.mapValues { [$0] }, "\(random.seed): \(body)")

            // URLComponents does not read "+" as a space; written as "%20" it reads the same.
            let items = URLComponents(string: "http://h/?" + Self.plusAsEscapedSpace(body))?.queryItems ?? []
            var foundation: [String: String] = [:]
            for item in items { foundation[item.name] = item.value }
            #expect(foundation == parameters, "\(random.seed): URLComponents reads \(body) as \(foundation)")
        }
    }

    /// `FormBody.decode` of any encoding, even of text it refuses, agrees with
    /// Foundation's percent-decoding: what it decodes, Foundation decodes the same;
    /// what Foundation refuses (a bad escape), it refuses. It refuses more: a control
    /// character, and escapes that are not UTF-8, which Foundation decodes as U+FFFD.
    @Test func formDecodingAgreesWithFoundation() async {
        var random = SeededRandom()
        let pieces = ["%", "%2", "%zz", "%C3", "%A9", "%FF", "%00", "%0a", "%7f", "%20", "+", "%2B", "a", "é", "~", "%e2%9c%93"]
        var decoded = 0
        for index in 0..<10_000 {
            await yieldNowAndThen(index)
            let encoded =
                Bool.random(using: &random)
                ? random.formEncoded(random.formText(controls: true))
                : (0..<Int.random(in: 0...6, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
            let ours = FormBody.decode(Array(encoded.utf8))
            let foundation = Self.plusAsEscapedSpace(encoded).removingPercentEncoding
            if let ours {
                #expect(ours == foundation, "\(random.seed): \(encoded)")
                decoded += 1
            } else if let foundation {
                let hasControl = foundation.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
                #expect(hasControl || foundation.unicodeScalars.contains("\u{FFFD}"), "\(random.seed): \(encoded) is refused, Foundation reads \(foundation)")
            }
        }
        #expect(decoded > 3_000, "\(random.seed): the generator makes valid encodings often enough")
    }

    /// `text` with every "+" byte written "%20", for Foundation's percent-decoding.
    /// Byte by byte: `replacingOccurrences` compares Characters, and "+" before a
    /// combining mark is one Character that is not "+".
    private static func plusAsEscapedSpace(_ text: String) -> String {
        String(decoding: text.utf8.flatMap { $0 == UInt8(ascii: "+") ? Array("%20".utf8) : [$0] }, as: UTF8.self)
    }

    /// Any client id and secret, form-url-encoded, joined by a colon and base64'd
    /// under a Basic scheme in any case and with any optional whitespace, are read back.
    @Test func basicCredentialsRoundTrip() async throws {
        var random = SeededRandom()
        for index in 0..<3_000 {
            await yieldNowAndThen(index)
            let id = random.formText(minimumLength: 1)
            let secret = Bool.random(using: &random) ? random.formText() : ""
            let scheme = String("basic".map { Bool.random(using: &random) ? Character($0.uppercased()) : $0 })
            let whitespace = { (random: inout SeededRandom) in
                String((0..<Int.random(in: 0...2, using: &random)).map { _ in Bool.random(using: &random) ? " " : "\t" })
            }
            let credentials = Data((random.formEncoded(id) + ":" + random.formEncoded(secret)).utf8).base64EncodedString()
            let header = scheme + " " + whitespace(&random) + credentials + whitespace(&random)
            #expect(
                try BasicCredentials.parse(authorization: Array(header.utf8)) == BasicCredentials(clientID: id, secret: secret),
                "\(random.seed): \(header)"
            )
        }
    }
}

extension SeededRandom {
    /// Text of up to 8 scalars: ASCII with the characters form encoding treats
    /// specially, and non-ASCII of every UTF-8 length; control characters only when asked.
    mutating func formText(minimumLength: Int = 0, controls: Bool = false) -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: minimumLength...8, using: &self) {
            let scalar: UInt32 =
                switch Int.random(in: 0..<(controls ? 9 : 8), using: &self) {
                case 0: Array(" +%&=?#/:;@!$'()*,~-._".unicodeScalars).randomElement(using: &self)!.value
                case 1: UInt32.random(in: 0x80...0x7FF, using: &self)
                case 2: UInt32.random(in: 0x800...0xD7FF, using: &self)
                case 3: UInt32.random(in: 0x10000...0x10FFFF, using: &self)
                case 8: [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x7F].randomElement(using: &self)!
                default: UInt32.random(in: 0x21...0x7E, using: &self)
                }
            scalars.append(Unicode.Scalar(scalar)!)
        }
        return String(scalars)
    }

    /// `text` form-url-encoded: a space as `+`, letters, digits and `-._~` left as they
    /// are or (at random) escaped too, every other byte `%XX` with each hex digit in
    /// random case.
    mutating func formEncoded(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            let unreserved = (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || "-._~".utf8.contains(byte)
            if byte == 0x20 {
                output += "+"
            } else if unreserved, Int.random(in: 0..<4, using: &self) != 0 {
                output.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                output += "%"
                for nibble in [byte >> 4, byte & 0xF] {
                    output += String(nibble, radix: 16, uppercase: Bool.random(using: &self))
                }
            }
        }
        return output
    }
}
