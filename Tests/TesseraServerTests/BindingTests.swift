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

/// DPoP at the token endpoint and on the admin API, in process (docs/binding.md).
@Suite struct DPoPEndpointTests {
    static func proof(
        _ key: SigningKey, _ method: String = "POST", _ path: String = "/oauth2/token", token: String? = nil, nonce: String? = nil
    ) throws
        -> String
    {
        try DPoPProof.sign(
            with: key, method: method, url: ServerHarness.issuer + path, iat: Int64(Date().timeIntervalSince1970), jti: UUID().uuidString,
            accessToken: token, nonce: nonce)
    }

    @Test func aProofBindsTheTokenWhichTheAdminAPIThenTakesOnlyWithAProof() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        let key = try SigningKey.generate(.es256)
        try await harness.run { client in
            let basic = "Basic " + Data("\(admin.clientID):\(admin.clientSecret)".utf8).base64EncodedString()
            let first = try Self.proof(key)
            let issued = try await client.execute(
                uri: "/oauth2/token", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .authorization: basic, .dpop: first],
                body: ByteBuffer(string: "grant_type=client_credentials"))
            #expect(issued.status == .ok)
            let body = try issued.jsonObject()
            #expect(body["token_type"] as? String == "DPoP")
            let token = try #require(body["access_token"] as? String)
            let claims = try AccessTokenClaims(json: try CompactJWS(token).payload)
            #expect(claims.cnf == Confirmation(jkt: try key.publicJWK.thumbprint()))

            // The same proof again is a replay.
            let replayed = try await client.execute(
                uri: "/oauth2/token", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .authorization: basic, .dpop: first],
                body: ByteBuffer(string: "grant_type=client_credentials"))
            #expect(replayed.status == .badRequest)
            #expect(try replayed.jsonObject()["error"] as? String == "invalid_dpop_proof")

            // Bearer: refused. DPoP with a proof for this request: accepted, once.
            #expect(try await client.call(.get, "/v1/whoami", token: token).status == .unauthorized)
            let proof = try Self.proof(key, "GET", "/v1/whoami", token: token)
            let whoami = try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "DPoP \(token)", .dpop: proof])
            #expect(whoami.status == .ok)
            let again = try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "DPoP \(token)", .dpop: proof])
            #expect(again.status == .unauthorized)
            #expect(again.headers[.wwwAuthenticate]?.contains(#"error="invalid_dpop_proof""#) == true)
            // Another key's proof: the token is not bound to it.
            let other = try Self.proof(try SigningKey.generate(.es256), "GET", "/v1/whoami", token: token)
            let stolen = try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "DPoP \(token)", .dpop: other])
            #expect(stolen.status == .unauthorized)
            #expect(stolen.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)

            // A bound token cannot be laundered into an unbound one by token exchange.
            let exchanged = try await client.token(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=\(token)"
                    + "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token")
            #expect(exchanged.status == .badRequest)
            #expect(try exchanged.jsonObject()["error"] as? String == "invalid_grant")

            // Introspection shows the binding for the resource server to check.
            let introspected = try await client.execute(
                uri: "/oauth2/introspect", method: .post, headers: [.contentType: "application/x-www-form-urlencoded", .authorization: basic],
                body: ByteBuffer(string: "token=\(token)"))
            let answer = try introspected.jsonObject()
            #expect(answer["active"] as? Bool == true)
            #expect(answer["token_type"] as? String == "DPoP")
            #expect((answer["cnf"] as? [String: Any])?["jkt"] as? String == (try key.publicJWK.thumbprint()))
        }
    }

    @Test func anAccountThatRequiresDPoPIsRefusedWithoutAProof() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let admin = try await harness.credentials()
        try await harness.run { client in
            let adminToken = try await client.accessToken(admin)
            let created = try await client.createAccount(tenant: "acme", token: adminToken, body: #"{"name":"dpop-only","dpop_bound_access_tokens":true}"#)
            #expect(created.status == .created)
            let account = try created.jsonObject()
            #expect(account["dpop_bound_access_tokens"] as? Bool == true)
            #expect(account["tls_client_certificate_bound_access_tokens"] as? Bool == false)
            let id = try #require(account["client_id"] as? String), secret = try #require(account["client_secret"] as? String)
            let refused = try await client.token("grant_type=client_credentials", basic: (id, secret))
            #expect(refused.status == .badRequest)
            #expect(try refused.jsonObject()["error"] as? String == "invalid_dpop_proof")
            let basic = "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
            let accepted = try await client.execute(
                uri: "/oauth2/token", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .authorization: basic, .dpop: try Self.proof(try SigningKey.generate(.eddsa))],
                body: ByteBuffer(string: "grant_type=client_credentials"))
            #expect(accepted.status == .ok)
            // A certificate-bound account asking without a certificate.
            let patched = try await client.call(
                .patch, "/v1/tenants/acme/service-accounts/\(try #require(account["id"] as? String))", token: adminToken,
                json: #"{"dpop_bound_access_tokens":false,"tls_client_certificate_bound_access_tokens":true,"tls_client_auth_san_ip":"10.0.0.1"}"#)
            #expect(patched.status == .ok)
            let binding = try patched.jsonObject()
            #expect(binding["tls_client_auth_san_ip"] as? String == "10.0.0.1")
            #expect(binding["tls_client_auth_subject_dn"] is NSNull)
            let noCertificate = try await client.token("grant_type=client_credentials", basic: (id, secret))
            #expect(noCertificate.status == .badRequest)
            #expect(try noCertificate.jsonObject()["error"] as? String == "invalid_request")
        }
    }
}

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
