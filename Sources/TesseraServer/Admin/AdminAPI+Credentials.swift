import Foundation
import Hummingbird
import TesseraCore
import TesseraJOSE

/// The admin API's routes for an account's credentials: client secrets, API tokens
/// (one handler for both kinds, under `secrets` and `api-tokens`) and the public
/// keys of `private_key_jwt`.
extension AdminAPI {
    func registerCredentials(on accounts: RouterGroup<TesseraRequestContext>) {
        for kind in [ClientSecret.Kind.clientSecret, .apiToken] {
            let collection = Self.collection(kind), resource = kind.rawValue == "client_secret" ? "secret" : kind.rawValue
            accounts.get(":id/\(collection)") { request, context in
                await handle(request, context, scope: .tenant) { call in try await listSecrets(call, kind: kind) }
            }
            accounts.post(":id/\(collection)") { request, context in
                await handle(request, context, scope: .tenant, audit: Audit(action: "\(resource).create", resource: resource)) { call in
                    try await createSecret(call, kind: kind)
                }
            }
            accounts.patch(":id/\(collection)/:secret") { request, context in
                await handle(request, context, scope: .tenant, audit: Audit(action: "\(resource).update", resource: resource, idParameter: "secret")) { call in
                    try await updateSecret(call, kind: kind)
                }
            }
            accounts.delete(":id/\(collection)/:secret") { request, context in
                await handle(request, context, scope: .tenant, audit: Audit(action: "\(resource).delete", resource: resource, idParameter: "secret")) { call in
                    try await deleteSecret(call, kind: kind)
                }
            }
        }

        accounts.get(":id/keys") { request, context in await handle(request, context, scope: .tenant, listKeys) }
        accounts.post(":id/keys") { request, context in
            await handle(request, context, scope: .tenant, audit: Audit(action: "client_key.create", resource: "client_key"), createKey)
        }
        accounts.delete(":id/keys/:kid") { request, context in
            await handle(request, context, scope: .tenant, audit: Audit(action: "client_key.delete", resource: "client_key", idParameter: "kid"), deleteKey)
        }
    }

    /// The path segment of a credential kind's collection.
    static func collection(_ kind: ClientSecret.Kind) -> String {
        switch kind {
        case .clientSecret: "secrets"
        case .apiToken: "api-tokens"
        }
    }

    static func noun(_ kind: ClientSecret.Kind) -> String {
        switch kind {
        case .clientSecret: "secret"
        case .apiToken: "API token"
        }
    }

    // MARK: Secrets

    func listSecrets(_ call: Call, kind: ClientSecret.Kind) async throws -> (Response, resourceID: String?) {
        let (_, secrets) = try await tessera.accounts.secrets(of: try await call.accountID(), in: call.tenant, kind: kind)
        return (.json(Representation.PageJSON(items: secrets.map { Representation.Secret($0) }, nextCursor: nil)), nil)
    }

    func createSecret(_ call: Call, kind: ClientSecret.Kind) async throws -> (Response, resourceID: String?) {
        let accountID = try await call.accountID()
        var reader = try await call.body()
        guard let name = try reader.string("name") else { throw Problem(.badRequest, "name is required", field: "name") }
        let input = NewClientSecret(
            kind: kind, name: name, description: try reader.string("description"), expiresInDays: try reader.integer("expires_in_days"),
            expiresAt: try reader.date("expires_at"),
            scopes: try reader.stringArray("scopes")
        )
        try reader.finish()
        let created = try await tessera.accounts.createSecret(for: accountID, in: call.tenant, input, by: call.caller)
        let id = created.secret.id.lowercased
        return (
            .json(
                Representation.Secret(created.secret, value: created.clientSecret), status: .created,
                headers: [.location: "/v1/tenants/\(try call.tenant.slug)/service-accounts/\(accountID.lowercased)/\(Self.collection(kind))/\(id)"]
            ),
            id
        )
    }

    func updateSecret(_ call: Call, kind: ClientSecret.Kind) async throws -> (Response, resourceID: String?) {
        let accountID = try await call.accountID(), secretID = try call.uuid("secret", Self.noun(kind))
        var reader = try await call.body()
        guard let enabled = try reader.bool("enabled") else { throw Problem(.badRequest, "enabled is required", field: "enabled") }
        try reader.finish()
        let updated = try await tessera.accounts.setSecret(secretID, of: accountID, in: call.tenant, kind: kind, enabled: enabled, by: call.caller)
        return (.json(Representation.Secret(updated)), nil)
    }

    func deleteSecret(_ call: Call, kind: ClientSecret.Kind) async throws -> (Response, resourceID: String?) {
        let accountID = try await call.accountID(), secretID = try call.uuid("secret", Self.noun(kind))
        try await tessera.accounts.deleteSecret(secretID, of: accountID, in: call.tenant, kind: kind, by: call.caller)
        return (Response(status: .noContent), nil)
    }

    // MARK: Keys for private_key_jwt

    func listKeys(_ call: Call) async throws -> (Response, resourceID: String?) {
        let keys = try await tessera.accounts.keys(of: try await call.accountID(), in: call.tenant)
        return (.json(Representation.PageJSON(items: keys.map(Representation.Key.init), nextCursor: nil)), nil)
    }

    func createKey(_ call: Call) async throws -> (Response, resourceID: String?) {
        let accountID = try await call.accountID()
        var reader = try await call.body()
        guard let jwk = try reader.jwk("jwk") else { throw Problem(.badRequest, "jwk is required", field: "jwk") }
        let expiresAt = try reader.date("expires_at")
        try reader.finish()
        let key = try await tessera.accounts.addKey(for: accountID, in: call.tenant, jwk: jwk, expiresAt: expiresAt, by: call.caller)
        return (.json(Representation.Key(key), status: .created), key.kid)
    }

    func deleteKey(_ call: Call) async throws -> (Response, resourceID: String?) {
        try await tessera.accounts.deleteKey(try call.parameter("kid"), of: try await call.accountID(), in: call.tenant, by: call.caller)
        return (Response(status: .noContent), nil)
    }

}
