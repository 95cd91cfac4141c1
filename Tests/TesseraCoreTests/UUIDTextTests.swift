import Foundation
import TesseraCore
import Testing

/// `UUID.lowercased` and `UUID(text:)` are written by hand for speed; Foundation's
/// `uuidString` and `UUID(uuidString:)` are the reference they must match.
@Suite struct UUIDTextTests {
    @Test func theTextFormIsFoundationsInLowerCase() {
        for _ in 0..<20_000 {
            let id = UUID()
            #expect(id.lowercased == id.uuidString.lowercased())
        }
        let edges = [
            UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
            UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255)),
        ]
        #expect(edges.map(\.lowercased) == ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"])
    }

    @Test func readingAcceptsAndRefusesWhatFoundationDoes() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let id = UUID()
            let mixed = String(id.uuidString.map { Bool.random(using: &random) ? Character($0.lowercased()) : $0 })
            for text in [id.uuidString, id.lowercased, mixed] {
                #expect(UUID(text: text) == id)
                #expect(UUID(text: text) == UUID(uuidString: text))
            }
        }
        // Near misses: a character changed, dropped or added at every position, and
        // strings Foundation's parser might treat loosely.
        let sample = UUID().lowercased
        var texts = ["", "-", String(repeating: "0", count: 36), String(repeating: "-", count: 36), sample.uppercased() + " ", " " + sample, "{\(sample)}"]
        for offset in 0..<36 {
            let index = sample.index(sample.startIndex, offsetBy: offset)
            for replacement in ["g", "G", "-", "0", " ", "+", "é", "\u{0}"] {
                texts.append(sample.replacingCharacters(in: index...index, with: replacement))
            }
            texts.append(sample.replacingCharacters(in: index...index, with: ""))
            texts.append(sample.replacingCharacters(in: index..<index, with: "a"))
        }
        texts.append(sample.replacingOccurrences(of: "-", with: ""))
        for text in texts {
            #expect(UUID(text: text) == UUID(uuidString: text), "\(text.debugDescription)")
            // The same text as bytes (a column SQLite hands out) reads the same.
            #expect(Array(text.utf8).withUnsafeBufferPointer { UUID(utf8: $0) } == UUID(uuidString: text), "\(text.debugDescription)")
        }
        #expect(Array(sample.utf8).withUnsafeBufferPointer { UUID(utf8: $0) }?.lowercased == sample)
        // Bytes that are not UTF-8 are no UUID.
        #expect([UInt8](repeating: 0xFF, count: 36).withUnsafeBufferPointer { UUID(utf8: $0) } == nil)
    }
}
