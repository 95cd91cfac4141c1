import Foundation
import TesseraCore
import Testing

/// Keycard's 26-character ids decode to the UUID they encode.
@Suite struct AccountReferenceTests {
    @Test func theTwentySixCharacterFormRoundTripsInEitherCase() throws {
        for _ in 0..<200 {
            let id = UUID()
            let text = Crockford32.encode(id)
            #expect(Crockford32.decodeUUID(text) == id)
            #expect(Crockford32.decodeUUID(text.lowercased()) == id)
            #expect(AccountReference(text.lowercased()) == .id(id))
        }
        // A value outside the 128 bits, letters the alphabet leaves out, wrong lengths.
        for text in [
            "8" + String(repeating: "0", count: 25), "0000000000000000000000000I", "0000000000000000000000000U", "0", String(repeating: "0", count: 27),
        ] {
            #expect(Crockford32.decodeUUID(text) == nil, "\(text)")
        }
        // All zeros and all ones, computed by hand: 128 bits of 1 are "7" then 25 "Z".
        #expect(Crockford32.decodeUUID(String(repeating: "0", count: 26)) == UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)))
        let ones = try #require(Crockford32.decodeUUID("7" + String(repeating: "Z", count: 25)))
        #expect(ones.uuidString == "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF")
    }

    @Test func eachFaceParsesToItsReference() {
        let id = UUID()
        #expect(AccountReference(id.uuidString) == .id(id))
        #expect(AccountReference("sa-" + id.uuidString.lowercased()) == .id(id))
        #expect(AccountReference("42") == .number(42))
        #expect(AccountReference("api_access@service") == .name("api_access@service"))
        for text in ["", "0", "-1", "+1", "1.5", "sa-", "sa-42", "name", "@service", "9999999999999999999"] {
            #expect(AccountReference(text) == nil, "\(text)")
        }
    }
}
