import Foundation
import Hummingbird
import TesseraCore
import TesseraJOSE

/// The admin API's routes for federated credentials (docs/federation.md): an
/// account's list, create and delete, and the tenant's dry run that says which
/// credential a token would match and why the others do not.
extension AdminAPI {
    func registerFederation(on v1: RouterGroup<TesseraRequestContext>) {
        v1.get("tenants/:tenant/service-accounts/:id/federated-credentials") { request, context in
            await handle(request, context, scope: .tenant, listFederatedCredentials)
        }
        v1.post("tenants/:tenant/service-accounts/:id/federated-credentials") { request, context in
            await handle(
                request, context, scope: .tenant, audit: Audit(action: "federated_credential.create", resource: "federated_credential"),
                createFederatedCredential)
        }
        v1.delete("tenants/:tenant/service-accounts/:id/federated-credentials/:credential") { request, context in
            await handle(
                request, context, scope: .tenant,
                audit: Audit(action: "federated_credential.delete", resource: "federated_credential", idParameter: "credential"),
                deleteFederatedCredential)
        }
        v1.post("tenants/:tenant/federated-credentials:test") { request, context in
            await handle(request, context, scope: .tenant, testFederatedToken)
        }
    }

    func listFederatedCredentials(_ call: Call) async throws -> (Response, resourceID: String?) {
        let credentials = try await tessera.federatedCredentials.list(of: try await call.accountID(), in: call.tenant)
        return (.json(Representation.PageJSON(items: try credentials.map(Representation.FederatedCredentialJSON.init), nextCursor: nil)), nil)
    }

    func createFederatedCredential(_ call: Call) async throws -> (Response, resourceID: String?) {
        let accountID = try await call.accountID()
        var reader = try await call.body()
        guard let name = try reader.string("name") else { throw Problem(.badRequest, "name is required", field: "name") }
        guard let issuer = try reader.string("issuer") else { throw Problem(.badRequest, "issuer is required", field: "issuer") }
        var claims: [String: String] = [:]
        if let value = try reader.json("claims"), value != .null {
            guard let members = value.object else { throw Problem(.badRequest, "claims must be an object of strings", field: "claims") }
            for (claim, pattern) in members {
                guard let pattern = pattern.string else { throw Problem(.badRequest, "claims must be an object of strings", field: "claims") }
                claims[claim] = pattern
            }
        }
        var jwks: String?
        if let value = try reader.json("jwks"), value != .null {
            guard value.object != nil else { throw Problem(.badRequest, "jwks must be a JWK Set object", field: "jwks") }
            var output = JSONOutput()
            output.value(value)
            jwks = String(decoding: output.bytes, as: UTF8.self)
        }
        let input = NewFederatedCredential(
            name: name, issuer: issuer, audience: try reader.string("audience"), subject: try reader.string("subject"), claims: claims,
            scopes: try reader.stringArray("scopes"), jwksURI: try reader.string("jwks_uri"), jwks: jwks,
            allowWithoutJTI: try reader.bool("allow_without_jti") ?? false
        )
        try reader.finish()
        let credential = try await tessera.federatedCredentials.add(for: accountID, in: call.tenant, input, by: call.caller)
        let id = credential.id.lowercased
        let location = "/v1/tenants/\(try call.tenant.slug)/service-accounts/\(accountID.lowercased)/federated-credentials/\(id)"
        return (.json(try Representation.FederatedCredentialJSON(credential), status: .created, headers: [.location: location]), id)
    }

    func deleteFederatedCredential(_ call: Call) async throws -> (Response, resourceID: String?) {
        let credentialID = try call.uuid("credential", "federated credential")
        try await tessera.federatedCredentials.delete(credentialID, of: try await call.accountID(), in: call.tenant, by: call.caller)
        return (Response(status: .noContent), nil)
    }

    func testFederatedToken(_ call: Call) async throws -> (Response, resourceID: String?) {
        var reader = try await call.body()
        guard let token = try reader.string("token") else { throw Problem(.badRequest, "token is required", field: "token") }
        let clientID = try reader.string("client_id")
        try reader.finish()
        let result = try await tessera.federation.test(token, clientID: clientID, in: call.tenant)
        return (.json(Representation.FederationTestJSON(result)), nil)
    }
}
