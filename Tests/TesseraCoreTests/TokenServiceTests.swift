import Foundation
import Logging
import Synchronization
import TesseraCore
import TesseraJOSE
import TesseraTestSupport
import Testing

@Suite struct TokenServiceTests {
    @Test func issuesRFC9068TokenWithRoleScopes() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let tenant = try await harness.tenant()
        let created = try await harness.account(in: tenant, NewServiceAccount(name: "billing", roles: ["analyst", "editor"]))
        let client = try await harness.tessera.tokens.authenticate(clientID: created.account.clientID, secret: created.issuedSecret)
        let issued = try harness.tessera.tokens.issue(for: client, scope: nil, audiences: [])

        #expect(issued.scope == "api:read api:write")
        #expect(issued.expiresIn == 3600)
        let jws = try CompactJWS(issued.accessToken)
        let keys = try #require(harness.tessera.keyRing.snapshot?.verificationKeys)
        try jws.verify(with: keys)
        #expect(jws.header.typ == "at+jwt")
        let claims = try JSONDecoder().decode(AccessTokenClaims.self, from: Data(jws.payload))
        let now = Int64(harness.clock.now.timeIntervalSince1970)
        #expect(claims.iss == "https://issuer.example")
        #expect(claims.sub == created.account.id.uuidString.lowercased())
        #expect(claims.aud == ["https://issuer.example"])
        #expect(claims.iat == now)
        #expect(claims.nbf == now)
        #expect(claims.exp == now + 3600)
        #expect(claims.clientID == created.account.clientID)
        #expect(claims.tenant == tenant.id.uuidString.lowercased())
        #expect(claims.roles == ["analyst", "editor"])
        #expect(claims.jti.count == 22)
    }

    @Test func everyTokenHasItsOwnJTI() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let created = try await harness.account(in: try await harness.tenant())
        let client = try await harness.tessera.tokens.authenticate(clientID: created.account.clientID, secret: created.issuedSecret)
        let ids = try (0..<20).map { _ in try harness.tessera.tokens.issue(for: client, scope: nil, audiences: []).claims.jti }
        #expect(Set(ids).count == 20)
    }

    @Test func scopeCanBeNarrowedButNotWidened() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let created = try await harness.account(in: try await harness.tenant(), NewServiceAccount(roles: ["editor"]))
        let client = try await harness.tessera.tokens.authenticate(clientID: created.account.clientID, secret: created.issuedSecret)
        #expect(try harness.tessera.tokens.issue(for: client, scope: "api:write api:write", audiences: []).scope == "api:write")
        #expect(throws: OAuthError.invalidScope("scope not allowed for this client: tessera:admin")) {
            try harness.tessera.tokens.issue(for: client, scope: "api:read tessera:admin", audiences: [])
        }
        #expect(throws: OAuthError.invalidScope("scope contains a character RFC 6749 §3.3 does not allow")) {
            try harness.tessera.tokens.issue(for: client, scope: "api:read \"x\"", audiences: [])
        }
        #expect(throws: OAuthError.invalidScope("scope is empty")) {
            try harness.tessera.tokens.issue(for: client, scope: "   ", audiences: [])
        }
    }

    @Test func audienceMustBeAllowed() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let created = try await harness.account(
            in: try await harness.tenant(), NewServiceAccount(roles: ["analyst"], audiences: ["https://orders.example"])
        )
        let client = try await harness.tessera.tokens.authenticate(clientID: created.account.clientID, secret: created.issuedSecret)
        #expect(try harness.tessera.tokens.issue(for: client, scope: nil, audiences: ["https://orders.example"]).claims.aud == ["https://orders.example"])
        #expect(throws: OAuthError.invalidTarget("audience not allowed for this client")) {
            try harness.tessera.tokens.issue(for: client, scope: nil, audiences: ["https://payroll.example"])
        }
    }

    @Test func wrongSecretUnknownClientAndMalformedSecretAreAllTheSameInvalidClient() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let created = try await harness.account(in: try await harness.tenant())
        let other = SecretFormat.make(randomBytes: Array(repeating: 9, count: 32))
        for (id, secret) in [
            (created.account.clientID, other),
            ("tsc_doesnotexist", created.issuedSecret),
            (created.account.clientID, "not-a-secret"),
            // The checksum's last character changed (to one it is not), so the secret is no longer well formed.
            (created.account.clientID, String(created.issuedSecret.dropLast()) + (created.issuedSecret.hasSuffix("x") ? "y" : "x")),
        ] {
            await #expect(throws: OAuthError.invalidClient()) { try await harness.tessera.tokens.authenticate(clientID: id, secret: secret) }
        }
    }

    @Test func accountPastItsExpiryIsRefused() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let created = try await harness.account(
            in: try await harness.tenant(), NewServiceAccount(roles: ["analyst"], expiresAt: harness.clock.now.addingTimeInterval(60))
        )
        _ = try await harness.tessera.tokens.authenticate(clientID: created.account.clientID, secret: created.issuedSecret)
        harness.clock.advance(61)
        await #expect(throws: OAuthError.invalidClient()) {
            try await harness.tessera.tokens.authenticate(clientID: created.account.clientID, secret: created.issuedSecret)
        }
    }

    @Test func successfulAuthenticationIsRecordedInABatch() async throws {
        let harness = try await CoreHarness()
        defer { harness.cleanup() }
        let created = try await harness.account(in: try await harness.tenant())
        _ = try await harness.tessera.tokens.authenticate(clientID: created.account.clientID, secret: created.issuedSecret)
        // Nothing is written until the batch is flushed.
        #expect(try await harness.tessera.storage.credentials(clientID: created.account.clientID)?.account.lastUsedAt == nil)
        try await harness.tessera.usage.flush()
        let stored = try #require(try await harness.tessera.storage.credentials(clientID: created.account.clientID))
        #expect(stored.account.lastUsedAt == harness.clock.now)
        #expect(stored.secrets.first?.lastUsedAt == harness.clock.now)
    }
}
