/// The PostgreSQL store's change feed: LISTEN/NOTIFY, followChanges and notify.

import Foundation
import PostgresNIO
import TesseraCore

extension PostgresStorage {
    // MARK: Changes

    public func followChanges(_ handle: @escaping @Sendable (StoreChange) async -> Void) async throws {
        do {
            try await client.withConnection { connection in
                try await connection.listen(on: Self.channel) { notifications in
                    // Listening now: whatever changed before is unknown, so start afresh.
                    await handle(.everything)
                    for try await notification in notifications {
                        guard let change = StoreChange(payload: notification.payload) else { continue }
                        await handle(change)
                    }
                }
            }
        } catch {
            throw Self.translate(error)
        }
    }

    func notify(_ connection: PostgresConnection, _ change: StoreChange) async throws {
        try await connection.query("SELECT pg_notify(\(Self.channel), \(change.payload))", logger: logger)
    }

    func notifyAccount(_ accountID: UUID, _ connection: PostgresConnection) async throws {
        let found = try await rows(connection, "SELECT client_id FROM service_accounts WHERE id = \(accountID)")
        if let row = found.first { try await notify(connection, .client(try row["client_id"].decode(String.self))) }
    }
}

extension StoreChange {
    /// What a client's payload starts with; its client id follows.
    static let clientPrefix = "client:"

    /// The `NOTIFY` payload: `client:<id>`, `keys` or `all`.
    var payload: String {
        switch self {
        case .client(let clientID): Self.clientPrefix + clientID
        case .everything: "all"
        case .signingKeys: "keys"
        }
    }

    init?(payload: String) {
        if payload == "all" {
            self = .everything
        } else if payload == "keys" {
            self = .signingKeys
        } else if payload.hasPrefix(Self.clientPrefix) {
            self = .client(String(payload.dropFirst(Self.clientPrefix.count)))
        } else {
            return nil
        }
    }
}
