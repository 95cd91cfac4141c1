import Foundation
import HummingbirdTesting
import TesseraCore
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
}
