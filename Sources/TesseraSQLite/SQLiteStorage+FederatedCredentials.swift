/// The SQLite store's federated credentials.

import Foundation
import GRDB
import TesseraCore

extension SQLiteStorage {
    // MARK: Federated credentials

    public func createFederatedCredential(_ credential: FederatedCredential, limit: Int) async throws {
        try await write { db in
            let count =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM federated_credentials WHERE account_id = ?", arguments: [credential.accountID.text]) ?? 0
            if count >= limit { throw StoreError.limitReached("the account holds \(count) of \(limit) federated credentials") }
            try db.execute(
                sql: """
                    INSERT INTO federated_credentials (id, tenant_id, account_id, name, issuer, audience, subject, claims, scopes,
                        jwks_uri, jwks, allow_without_jti, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    credential.id.text, credential.tenantID.text, credential.accountID.text, credential.name, credential.issuer,
                    credential.audience, credential.subject, try StoredJSON.encode(credential.claims),
                    try credential.scopes.map(StoredJSON.encode), credential.jwksURI, credential.jwks, credential.allowWithoutJTI,
                    credential.createdAt.timeIntervalSince1970,
                ]
            )
        }
    }

    public func federatedCredentials(accountID: UUID) async throws -> [FederatedCredential] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM federated_credentials WHERE account_id = ? ORDER BY created_at, name", arguments: [accountID.text]
            ).map(Self.federatedCredential)
        }
    }

    public func federatedCredentials(issuer: String, limit: Int) async throws -> [FederatedCredential] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM federated_credentials WHERE issuer = ? ORDER BY created_at, id LIMIT ?", arguments: [issuer, limit]
            )
            .map(Self.federatedCredential)
        }
    }

    public func deleteFederatedCredential(id: UUID, accountID: UUID) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM federated_credentials WHERE id = ? AND account_id = ?", arguments: [id.text, accountID.text])
            return db.changesCount > 0
        }
    }

    private static func federatedCredential(_ row: Row) throws -> FederatedCredential {
        FederatedCredential(
            id: try uuid(row["id"]), tenantID: try uuid(row["tenant_id"]), accountID: try uuid(row["account_id"]), name: row["name"],
            issuer: row["issuer"], audience: row["audience"], subject: row["subject"], claims: try StoredJSON.decode(row["claims"]),
            scopes: try (row["scopes"] as String?).map(StoredJSON.strings), jwksURI: row["jwks_uri"], jwks: row["jwks"],
            allowWithoutJTI: row["allow_without_jti"], createdAt: Date(timeIntervalSince1970: row["created_at"])
        )
    }
}
