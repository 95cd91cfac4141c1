import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

/// Trusted proxies: which peers' forwarding headers are believed, and the client
/// address read from them (docs/binding.md).
@Suite struct TrustedProxiesTests {
    @Test func entriesAreAddressesOrRangesAndAnythingElseIsRefused() throws {
        let proxies = try TrustedProxies(["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", " 127.0.0.1 "])
        for trusted in ["10.1.2.3", "192.168.1.7", "2001:db8::5", "127.0.0.1", "::ffff:10.9.9.9"] { #expect(proxies.contains(trusted), "\(trusted)") }
        for other in ["11.0.0.1", "192.168.1.8", "2001:db9::1", "::1", "not an address", ""] { #expect(!proxies.contains(other), "\(other)") }
        for bad in ["10.0.0.0/33", "10.0.0.0/-1", "2001:db8::/129", "example.com", "10.0.0.0/", "1.2.3"] {
            #expect(throws: TrustedProxies.Invalid.self, "\(bad)") { try TrustedProxies([bad]) }
        }
        #expect(!TrustedProxies().contains("127.0.0.1"))
    }

    @Test func theClientIsTheRightMostAddressThatIsNotATrustedProxy() throws {
        let proxies = try TrustedProxies(["10.0.0.0/8"])
        func client(_ fields: [(String, String)], peer: String = "10.0.0.1") -> String {
            var headers = HTTPFields()
            for (name, value) in fields { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
            return proxies.clientAddress(peer: peer, headers: headers)
        }
        // A client may put anything on the left; only what the proxies appended counts.
        #expect(client([("X-Forwarded-For", "1.1.1.1, 203.0.113.9, 10.0.0.2")]) == "203.0.113.9")
        #expect(client([("X-Forwarded-For", "203.0.113.9:4711")]) == "203.0.113.9")
        // The header the proxies do not set is never read: a client sending it picks nothing.
        #expect(client([("Forwarded", "for=198.51.100.4"), ("X-Forwarded-For", "203.0.113.9")]) == "203.0.113.9")
        #expect(client([("Forwarded", "for=198.51.100.4")]) == "10.0.0.1")
        // Two fields of one name count as one list (RFC 9110 §5.3).
        #expect(client([("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "203.0.113.9")]) == "203.0.113.9")
        #expect(client([("X-Forwarded-For", "not-an-address")]) == "10.0.0.1")
        // With `--forwarded-header forwarded`, the other way round.
        let forwarded = try TrustedProxies(["10.0.0.0/8"], header: .forwarded)
        func viaForwarded(_ fields: [(String, String)]) -> String {
            var headers = HTTPFields()
            for (name, value) in fields { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
            return forwarded.clientAddress(peer: "10.0.0.1", headers: headers)
        }
        #expect(viaForwarded([("Forwarded", #"for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https"#)]) == "2001:db8:cafe::17")
        #expect(viaForwarded([("Forwarded", "for=198.51.100.4"), ("X-Forwarded-For", "203.0.113.9")]) == "198.51.100.4")
        #expect(viaForwarded([("X-Forwarded-For", "203.0.113.9")]) == "10.0.0.1")
        // What names no address leaves the peer: obfuscated identifiers, `unknown`.
        #expect(viaForwarded([("Forwarded", "for=unknown")]) == "10.0.0.1")
        #expect(viaForwarded([("Forwarded", "for=_hidden")]) == "10.0.0.1")
        // Only proxies in the chain: the peer.
        #expect(client([("X-Forwarded-For", "10.0.0.3, 10.0.0.2")]) == "10.0.0.1")
        // From a peer that is not a trusted proxy, nothing is believed.
        #expect(client([("X-Forwarded-For", "203.0.113.9")], peer: "198.51.100.1") == "198.51.100.1")
        // The address comes out in its canonical spelling.
        #expect(client([("X-Forwarded-For", "2001:DB8:0:0:0:0:0:1")]) == "2001:db8::1")
    }

    @Test func aClientCertHeaderIsAnRFC8941ByteSequence() {
        #expect(ClientCertificates.byteSequence(":AQID:") == [1, 2, 3])
        #expect(ClientCertificates.byteSequence(" :AQID: ") == [1, 2, 3])
        for bad in ["AQID", ":AQID", "::", ":!!:", ""] { #expect(ClientCertificates.byteSequence(bad).map { !$0.isEmpty } != true, "\(bad)") }
    }
}
