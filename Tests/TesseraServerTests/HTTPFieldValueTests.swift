import HTTPTypes
import Logging
import Synchronization
import Testing

@testable import TesseraServer

@Suite struct HTTPFieldValueTests {
    @Test func readsAFieldAsTheSubscriptDoes() {
        var fields: HTTPFields = [.contentType: "application/json", HTTPField.Name("authorization")!: "Basic abc"]
        #expect(fields.value(of: .authorization) == "Basic abc")
        #expect(fields.value(of: .contentType) == "application/json")
        #expect(fields.value(of: .contentLength) == nil)
        // Twice: joined, as HTTPFields' own subscript joins them.
        fields.append(HTTPField(name: .authorization, value: "Basic def"))
        #expect(fields.value(of: .authorization) == "Basic abc, Basic def")
        #expect(fields.value(of: .authorization) == fields[.authorization])
    }
}
