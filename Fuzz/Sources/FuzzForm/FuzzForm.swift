import Foundation
import FuzzerDriver
import TesseraCore
import TesseraJOSE

/// fuzz-form: the first byte of the input chooses the parser, the rest is its input.
/// Even: `FormBody(_:repeatable:)` (with `resource` repeatable, as at the token
/// endpoint) and `FormBody.decode`. Odd: `BasicCredentials.parse(authorization:)`.
///
/// Oracles besides "nothing traps":
/// - a parsed body has only non-empty names and values without control characters,
///   and encoding them again gives a body that parses to the same parameters;
/// - what `FormBody.decode` decodes from valid UTF-8, Foundation's
///   `removingPercentEncoding` decodes the same (after `+` is written `%20`);
/// - parsed Basic credentials have a non-empty id; the base64 Foundation's
///   `Data(base64Encoded:)` reads the same bytes; and encoding id and secret again
///   gives a header that parses to the same credentials.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzForm(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    if selector % 2 == 0 {
        fuzzFormBody(input)
    } else {
        fuzzBasic(input)
    }
    return 0
}

func fuzzFormBody(_ input: [UInt8]) {
    if let decoded = FormBody.decode(input), String(validating: input, as: UTF8.self) != nil {
        // "+" replaced byte by byte: String's replacingOccurrences compares characters,
        // and "+" followed by a combining mark is one character that is not "+".
        let spaces = input.flatMap { $0 == UInt8(ascii: "+") ? Array("%20".utf8) : [$0] }
        let foundation = String(decoding: spaces, as: UTF8.self).removingPercentEncoding
        require(foundation.map { Array($0.utf8) } == Array(decoded.utf8), "removingPercentEncoding decodes the same")
    }
    let repeatable: Set<String> = ["resource"]
    guard let form = try? FormBody(input, repeatable: repeatable) else { return }
    var pairs: [String] = []
    for (name, values) in form.values {
        require(!name.isEmpty && !values.isEmpty, "no empty name, every name has a value")
        require(values.count == 1 || repeatable.contains(name), "only a repeatable parameter repeats")
        require(form[name] == values[0] && form.all(name) == values, "the accessors agree with values")
        for text in [name] + values {
            require(!text.isEmpty && !text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "no empty value or control character")
        }
        pairs += values.map { percentEncoded(name) + "=" + percentEncoded($0) }
    }
    let again = try? FormBody(Array(pairs.joined(separator: "&").utf8), repeatable: repeatable)
    require(again?.values == form.values, "an encoded body parses to the same parameters")
}

func fuzzBasic(_ input: [UInt8]) {
    guard let credentials = try? BasicCredentials.parse(authorization: input) else { return }
    require(!credentials.clientID.isEmpty, "the client id is not empty")
    let encoded = String(decoding: input.dropFirst(6), as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
    let foundation = Data(base64Encoded: encoded).map(Array.init)
    require(foundation == Base64.decode(Array(encoded.utf8)), "Data(base64Encoded:) reads the same bytes")
    let header = "Basic " + Data((percentEncoded(credentials.clientID) + ":" + percentEncoded(credentials.secret)).utf8).base64EncodedString()
    require((try? BasicCredentials.parse(authorization: Array(header.utf8))) == credentials, "encoded credentials parse back")
}

/// Every byte outside `A-Za-z0-9` as `%XX`.
func percentEncoded(_ text: String) -> String {
    var output = ""
    for byte in text.utf8 {
        if (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) {
            output.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            output += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
        }
    }
    return output
}

@main enum FuzzFormMain {
    static func main() {
        exit(tessera_fuzzer_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzForm))
    }
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("oracle failed: \(message())") }
}
