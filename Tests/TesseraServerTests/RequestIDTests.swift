import HTTPTypes
import Logging
import Synchronization
import Testing

@testable import TesseraServer

@Suite struct RequestIDTests {
    @Test func newIDsAre26CharactersAndDistinct() {
        let requestIDs = RequestIDs(dependencies: .live)
        let ids = (0..<1_000).map { _ in requestIDs.newID() }
        #expect(Set(ids).count == 1_000)
        #expect(ids.allSatisfy { $0.count == 26 && RequestIDs.isSafe($0) })
        // Another server draws another prefix.
        let other = RequestIDs(dependencies: .live)
        #expect(other.newID().prefix(12) != ids[0].prefix(12))
    }
}
