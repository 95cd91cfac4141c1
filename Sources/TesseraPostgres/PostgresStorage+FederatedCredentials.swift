/// The PostgreSQL store's federated credentials.

import Foundation
import PostgresNIO
import TesseraCore

extension PostgresStorage {
    // MARK: Federated credentials

    public func createFederatedCredential(_ credential: FederatedCredential, limit: Int) async throws {
        try await transaction { connection in
            _ = try await self.lockAccount(credential.accountID, connection)
            let count = try await self.rows(connection, "SELECT COUNT(*) AS n FROM federated_credentials WHERE account_id = \(credential.accountID)")
            let held = try count[0]["n"].decode(Int.self)
            if held >= limit { throw StoreError.limitReached("the account holds \(held) of \(limit) federated credentials") }
            let claims = try StoredJSON.encode(credential.claims), scopes = try credential.scopes.map(StoredJSON.encode)
            try await connection.query(
                """
                INSERT INTO federated_credentials (id, tenant_id, account_id, name, issuer, audience, subject, claims, scopes,
                    jwks_uri, jwks, allow_without_jti, created_at)
                VALUES (\(credential.id), \(credential.tenantID), \(credential.accountID), \(credential.name), \(credential.issuer),
                        \(credential.audience), \(credential.subject), \(claims), \(scopes), \(credential.jwksURI), \(credential.jwks),
                        \(credential.allowWithoutJTI), \(credential.createdAt.timeIntervalSince1970))
                """, logger: self.logger)
        }
    }

    public func federatedCredentials(accountID: UUID) async throws -> [FederatedCredential] {
        try await query("SELECT * FROM federated_credentials WHERE account_id = \(accountID) ORDER BY created_at, name").map(Self.federatedCredential)
    }

    public func federatedCredentials(issuer: String, limit: Int) async throws -> [FederatedCredential] {
        try await query("SELECT * FROM federated_credentials WHERE issuer = \(issuer) ORDER BY created_at, id LIMIT \(limit)")
            .map(Self.federatedCredential)
    }

    public func deleteFederatedCredential(id: UUID, accountID: UUID) async throws -> Bool {
        let deleted = try await query("DELETE FROM federated_credentials WHERE id = \(id) AND account_id = \(accountID) RETURNING id")
        return !deleted.isEmpty
    }

    private static func federatedCredential(_ row: PostgresRandomAccessRow) throws -> FederatedCredential {
        FederatedCredential(
            id: try row["id"].decode(UUID.self), tenantID: try row["tenant_id"].decode(UUID.self), accountID: try row["account_id"].decode(UUID.self),
            name: try row["name"].decode(String.self), issuer: try row["issuer"].decode(String.self),
            audience: try row["audience"].decode(String?.self), subject: try row["subject"].decode(String?.self),
            claims: try StoredJSON.decode(row["claims"].decode(String.self)),
            scopes: try row["scopes"].decode(String?.self).map { try StoredJSON.decode($0) },
            jwksURI: try row["jwks_uri"].decode(String?.self), jwks: try row["jwks"].decode(String?.self),
            allowWithoutJTI: try row["allow_without_jti"].decode(Bool.self),
            createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self))
        )
    }
}
