import Foundation
import Testing

@testable import TesseraCore

/// `StoredJSON.projects` and `StoredJSON.strings` read stored lists without
/// `JSONDecoder`; what they read must be what `JSONDecoder` reads, and what it
/// cannot read is refused.
@Suite struct StoredJSONTests {
    @Test func projectsReadAsJSONDecoderReadsThem() throws {
        let texts = [
            "[]", #"[{"project":"p1","role":"analyst"}]"#, #"[ {"role":"owner", "project":"p \"2\"", "extra": 1} ]"#,
            #"[{"project":"é€😀","role":"\n"},{"project":"","role":""}]"#,
        ]
        for text in texts {
            let expected = try JSONDecoder().decode([ServiceAccount.ProjectMembership].self, from: Data(text.utf8))
            #expect(try StoredJSON.projects(text) == expected, "\(text)")
        }
    }

    @Test func malformedProjectsAreRefused() {
        for text in ["", "{}", "null", #"["p1"]"#, #"[{"project":"p1"}]"#, #"[{"project":1,"role":"r"}]"#, #"[{"project":"p","role":"r"}"#] {
            #expect(throws: StoreError.self, "\(text)") { try StoredJSON.projects(text) }
            #expect((try? JSONDecoder().decode([ServiceAccount.ProjectMembership].self, from: Data(text.utf8))) == nil, "\(text)")
        }
    }

    /// Lists of strings, as `JSONEncoder` stores them (the plain-string shortcut) and
    /// as any JSON writer might (the full reader): random lists of plain, escaped and
    /// non-ASCII strings, written by `JSONEncoder` with and without escaped slashes.
    @Test func stringListsReadAsJSONDecoderReadsThem() throws {
        var random = SystemRandomNumberGenerator()
        let pieces = ["a", "api:read", "", " ", "/", "\"", "\\", "\n", "\u{1}", "é", "€", "😀", ",", "[", "]", "x\"y"]
        var texts = ["[]", #"[ ]"#, #"[ "a" , "b" ]"#, #"["a\u0062"]"#, #"["\/"]"#]
        for _ in 0..<2_000 {
            let list = (0..<Int.random(in: 0...4, using: &random)).map { _ in
                (0..<Int.random(in: 0...3, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
            }
            let encoder = JSONEncoder()
            if Bool.random(using: &random) { encoder.outputFormatting = .withoutEscapingSlashes }
            texts.append(String(decoding: try encoder.encode(list), as: UTF8.self))
        }
        for text in texts {
            let expected = try JSONDecoder().decode([String].self, from: Data(text.utf8))
            #expect(try StoredJSON.strings(text) == expected, "\(text)")
        }
    }

    @Test func malformedStringListsAreRefused() {
        let texts = [
            "", "[", "]", "[,]", #"[,"a"]"#, #"["a""b"]"#, #"["a"]]"#, #"[["a"]]"#, #"["a"#, #"["a]"#, #"[a]"#, "[1]", "null",
            #"{"a":"b"}"#, "[\"\u{1}\"]", #"["\x"]"#,
        ]
        for text in texts {
            #expect(throws: StoreError.self, "\(text)") { try StoredJSON.strings(text) }
            #expect((try? JSONDecoder().decode([String].self, from: Data(text.utf8))) == nil, "\(text)")
        }
        // A trailing comma, which Foundation's decoder lets through and RFC 8259 does not.
        for text in [#"["a",]"#, #"["a","b",]"#] {
            #expect(throws: StoreError.self, "\(text)") { try StoredJSON.strings(text) }
        }
        // Bytes that are not UTF-8 inside a string.
        let invalid: [UInt8] = [UInt8(ascii: "["), UInt8(ascii: "\""), 0xFF, UInt8(ascii: "\""), UInt8(ascii: "]")]
        #expect(throws: StoreError.self) { try invalid.withUnsafeBufferPointer { try StoredJSON.strings($0) } }
    }
}
