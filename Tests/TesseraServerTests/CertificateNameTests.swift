import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

/// An account's certificate name: checked per kind, kept in one canonical spelling,
/// and matched against a presented certificate as RFC 8705 §2.1.2 says.
@Suite struct CertificateNameTests {
    typealias Name = TokenBinding.CertificateName

    @Test func eachKindIsCheckedAndCanonicalized() throws {
        #expect(try Name(kind: .ip, value: "2001:DB8:0::1").validated().value == "2001:db8::1")
        #expect(try Name(kind: .dns, value: "Orders.Example.COM").validated().value == "orders.example.com")
        #expect(try Name(kind: .subjectDN, value: "CN=orders,O=Example\\, Inc.,C=US").validated().value == "CN=orders,O=Example\\, Inc.,C=US")
        for (kind, bad) in [
            (Name.Kind.ip, "10.0.0.256"), (.ip, "example.com"), (.dns, "-bad.example"), (.dns, "a..b"), (.dns, "*.example.com"), (.dns, "\u{212A}.example.com"),
            (.dns, "under_score.example"),
            (.uri, "no scheme"), (.email, "no-at-sign"), (.email, "two@at@signs"), (.subjectDN, "just text"), (.subjectDN, "CN=,O=x"),
            (.subjectDN, ""), (.uri, "spiffe://x/\u{7}"), (.subjectDN, String(repeating: "a", count: 1025)),
        ] {
            let error = #expect(throws: DomainError.self, "\(kind) \(bad)") { try Name(kind: kind, value: bad).validated() }
            #expect(error?.kind == .invalidInput(field: kind.field))
        }
    }

    @Test func aSubjectMatchesAsADistinguishedNameAndSANsByKind() {
        let certificate = PresentedCertificate(
            thumbprint: "t", subjectDN: "CN=svc-a,O=Acme,C=US",
            alternativeNames: [Name(kind: .dns, value: "svc.acme.test"), Name(kind: .ip, value: "10.1.2.3"), Name(kind: .uri, value: "spiffe://acme/svc")],
            publicKeyThumbprint: nil, chainsToTrustedCA: true
        )
        #expect(certificate.carries(Name(kind: .subjectDN, value: "cn=svc-a, o=Acme, c=US")))
        #expect(!certificate.carries(Name(kind: .subjectDN, value: "CN=SVC-A,O=Acme,C=US")), "values compare byte for byte")
        #expect(!certificate.carries(Name(kind: .subjectDN, value: "CN=svc-a\u{A0},O=Acme,C=US")), "no Unicode space is trimmed")
        #expect(!certificate.carries(Name(kind: .subjectDN, value: "O=Acme,CN=svc-a,C=US")), "the order of the parts matters")
        #expect(!certificate.carries(Name(kind: .subjectDN, value: "CN=svc-a,O=Acme")))
        #expect(certificate.carries(Name(kind: .dns, value: "SVC.acme.test")))
        #expect(certificate.carries(Name(kind: .ip, value: "10.1.2.3")))
        #expect(!certificate.carries(Name(kind: .dns, value: "10.1.2.3")), "a name of another kind does not count")
        #expect(!certificate.carries(Name(kind: .uri, value: "spiffe://acme/SVC")))
        #expect(!certificate.carries(Name(kind: .email, value: "svc@acme.test")))
    }
}
