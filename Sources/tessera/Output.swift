import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import TesseraVerifier

/// Output of the admin commands: the API's JSON with `--json`, else a line per item.
enum Output {
    static func json(_ value: Any) throws {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }

    static func raw(_ bytes: [UInt8]) {
        print(String(decoding: bytes, as: UTF8.self))
    }

    /// `key: value` lines of an object, in `keys` order, skipping absent ones.
    static func fields(_ object: [String: Any], _ keys: [String]) {
        for key in keys {
            guard let value = object[key], !(value is NSNull) else { continue }
            print("\(key): \(text(value))")
        }
    }

    static func text(_ value: Any) -> String {
        switch value {
        case let strings as [String]: printable(strings.joined(separator: ", "))
        case is NSNull: "-"
        case let other: printable("\(other)")
        }
    }

    /// `text` with control characters (C0, DEL, C1, among them ESC) written as
    /// `\u{…}`, so that what another administrator stored cannot drive the terminal.
    static func printable(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                result += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// One line per item: the values of `keys`, separated by two spaces.
    static func lines(_ items: [[String: Any]], _ keys: [String]) {
        for item in items {
            print(keys.map { item[$0].map(text) ?? "-" }.joined(separator: "  "))
        }
    }
}
