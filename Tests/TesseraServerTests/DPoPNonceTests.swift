import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

@Suite struct DPoPNonceTests {
    @Test func aNonceIsGoodForItsSlotAndTheNextOnlyAndOnlyUnderItsMasterKey() {
        let nonces = DPoPValidator.Nonces(masterKey: .generate())
        let slot = DPoPValidator.Nonces.slot
        let now: Int64 = 1_800_000_000
        let nonce = nonces.current(now: now)
        #expect(nonces.isValid(nonce, now: now))
        #expect(nonces.isValid(nonce, now: now + slot))
        #expect(!nonces.isValid(nonce, now: now + 2 * slot))
        #expect(!nonces.isValid(nonce, now: now - slot), "a nonce from the future is not one handed out")
        #expect(!DPoPValidator.Nonces(masterKey: .generate()).isValid(nonce, now: now))
        #expect(!nonces.isValid("", now: now))
    }
}
