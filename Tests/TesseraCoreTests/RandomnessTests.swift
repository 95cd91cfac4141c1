import Foundation
import TesseraCore
import TesseraJOSE
import TesseraSQLite
import Testing

@Suite struct RandomnessTests {
    @Test(arguments: [0, 1, 7, 8, 9, 16, 32, 33])
    func liveRandomBytesHaveTheAskedLength(_ count: Int) {
        #expect(Dependencies.live.randomBytes(count).count == count)
    }

    @Test func liveRandomBytesDiffer() {
        #expect(Dependencies.live.randomBytes(32) != Dependencies.live.randomBytes(32))
    }

    @Test func uuidsAreVersion4() {
        let text = Dependencies.live.uuid().uuidString
        #expect(Array(text)[14] == "4")
        #expect("89AB".contains(Array(text)[19]))
    }
}
