import Foundation
import Testing

@testable import TesseraCore

/// `StoredJSON.projects` reads project memberships without `JSONDecoder`; what it
/// reads must be what `JSONDecoder` reads, and what it cannot read is refused.
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
}
