import Foundation
import HummingbirdTesting
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraServer

/// docs/admin-api.md: every member of a resource is present, `null` when unset, and a
/// secret's value appears once, under `client_secret` or, for an API token, `token`.
@Suite struct RepresentationTests {
    @Test func unsetMembersAreNullAndNotLeftOut() async throws {
        let harness = try await ServerHarness()
        defer { harness.cleanup() }
        let root = try await harness.credentials(tenant: "root", role: "super_admin")
        _ = try await harness.credentials()
        try await harness.run { client in
            let token = try await client.accessToken(root)
            let created = try await client.call(.post, "/v1/tenants/acme/service-accounts", token: token, json: #"{"name":"bare"}"#)
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(try created.jsonObject()["id"] as? String)

            let account = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(id)", token: token).jsonObject()
            for member in [
                "description", "expires_at", "token_lifetime", "last_used_at", "tls_client_auth_subject_dn", "tls_client_auth_san_dns",
                "tls_client_auth_san_uri", "tls_client_auth_san_ip", "tls_client_auth_san_email",
            ] {
                #expect(account[member] is NSNull, "\(member): \(account[member] ?? "absent")")
            }
            #expect(account["dpop_bound_access_tokens"] as? Bool == false)
            #expect(account["self_signed_tls_client_auth"] as? Bool == false)
            #expect(account["client_secret"] == nil)

            let secrets = try await client.call(.get, "/v1/tenants/acme/service-accounts/\(id)/secrets", token: token).jsonObject()
            #expect(secrets["next_cursor"] is NSNull)
            let secret = try #require((secrets["items"] as? [[String: Any]])?.first)
            for member in ["description", "scopes", "expires_at", "last_used_at"] {
                #expect(secret[member] is NSNull, "\(member): \(secret[member] ?? "absent")")
            }
            #expect(secret["client_secret"] == nil && secret["token"] == nil)

            let apiToken = try await client.call(
                .post, "/v1/tenants/acme/service-accounts/\(id)/api-tokens", token: token, json: #"{"name":"etl"}"#
            ).jsonObject()
            #expect((apiToken["token"] as? String)?.hasPrefix("tsa_") == true, "\(apiToken)")
            #expect(apiToken["client_secret"] == nil)
            let newSecret = try await client.call(
                .post, "/v1/tenants/acme/service-accounts/\(id)/secrets", token: token, json: #"{"name":"second"}"#
            ).jsonObject()
            #expect(newSecret["client_secret"] is String, "\(newSecret)")
            #expect(newSecret["token"] == nil)

            let tenant = try await client.call(.get, "/v1/tenants/acme", token: token).jsonObject()
            for member in ["account_limit", "token_lifetime", "default_audience"] {
                #expect(tenant[member] is NSNull, "\(member): \(tenant[member] ?? "absent")")
            }

            let keys = try await client.call(.get, "/v1/signing-keys", token: token).jsonObject()
            let active = try #require((keys["items"] as? [[String: Any]])?.first { $0["state"] as? String == "active" })
            #expect(active["retired_at"] is NSNull)
            #expect(active.keys.contains("activates_at"))
        }
    }

    /// A page of accounts is written by hand (``JSONWritable``) rather than by
    /// `JSONEncoder`; the two must give the same bytes, for any account.
    @Test func aPageOfAccountsIsWrittenAsJSONEncoderWritesIt() throws {
        var random = SystemRandomNumberGenerator()
        // Text with what JSON must escape, multi-byte UTF-8 and plain ASCII.
        let alphabet: [String] = [
            "a", "Z", "0", "-", "_", " ", "/", "\"", "\\", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{01}", "\u{1F}", "\u{7F}", "é", "€", "😀", "\u{2028}",
        ]
        func text() -> String { (0..<Int.random(in: 0...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined() }
        func maybe<T>(_ make: () -> T) -> T? { Bool.random(using: &random) ? make() : nil }
        func date() -> Date {
            // Mostly the years the fast path covers, sometimes before 1583 and after 9999.
            let bounds: ClosedRange<Double> = Int.random(in: 0..<10, using: &random) == 0 ? -20_000_000_000...300_000_000_000 : 0...4_000_000_000
            return Date(timeIntervalSince1970: Double.random(in: bounds, using: &random).rounded(.down))
        }
        let kinds = TokenBinding.CertificateName.Kind.allCases
        for round in 0..<400 {
            let accounts = (0..<Int.random(in: 0...5, using: &random)).map { _ in
                let account = ServiceAccount(
                    id: UUID(), tenantID: UUID(), number: Int.random(in: 1...Int.max, using: &random), clientID: text(), name: text(),
                    description: maybe(text), roles: (0..<Int.random(in: 0...3, using: &random)).map { _ in text() },
                    groups: (0..<Int.random(in: 0...2, using: &random)).map { _ in text() },
                    projects: (0..<Int.random(in: 0...2, using: &random)).map { _ in ServiceAccount.ProjectMembership(project: text(), role: text()) },
                    audiences: (0..<Int.random(in: 0...2, using: &random)).map { _ in text() },
                    status: Bool.random(using: &random) ? .active : .disabled, expiresAt: maybe(date),
                    tokenLifetime: maybe { Int.random(in: 0...Int.max, using: &random) },
                    binding: TokenBinding(
                        dpopRequired: Bool.random(using: &random), certificateRequired: Bool.random(using: &random),
                        tlsClientAuth: maybe { TokenBinding.CertificateName(kind: kinds.randomElement(using: &random)!, value: text()) },
                        selfSigned: Bool.random(using: &random)
                    ),
                    createdAt: date(), updatedAt: date(), createdBy: maybe(text), lastUsedAt: maybe(date)
                )
                return Representation.Account(account, clientSecret: round % 7 == 0 ? text() : nil)
            }
            let page = Representation.PageJSON(items: accounts, nextCursor: maybe(text))
            var written = JSONOutput()
            page.write(into: &written)
            let encoded = try JSONCoding.encoder.encode(page)
            #expect(written.bytes == Array(encoded), "\(String(decoding: written.bytes, as: UTF8.self))\n\(String(decoding: encoded, as: UTF8.self))")
            if let account = accounts.first {
                var one = JSONOutput()
                account.write(into: &one)
                #expect(one.bytes == Array(try JSONCoding.encoder.encode(account)))
            }
        }
    }
}
