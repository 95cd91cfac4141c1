import Foundation
import TesseraCore
import TesseraJOSE

/// How the native API renders its resources. Every member is present; `@Nullable`
/// ones are `null` when unset (docs/admin-api.md).
enum Representation {
    struct Account: Encodable {
        let id: String
        let tenantID: String
        let number: Int
        let clientID: String
        let name: String
        @Nullable var description: String?
        let roles: [String]
        let groups: [String]
        let projects: [ServiceAccount.ProjectMembership]
        let audiences: [String]
        let status: String
        @Nullable var expiresAt: Date?
        @Nullable var tokenLifetime: Int?
        let dpopBoundAccessTokens: Bool
        let certificateBoundAccessTokens: Bool
        let selfSigned: Bool
        @Nullable var subjectDN: String?
        @Nullable var sanDNS: String?
        @Nullable var sanURI: String?
        @Nullable var sanIP: String?
        @Nullable var sanEmail: String?
        let createdAt: Date
        let updatedAt: Date
        @Nullable var createdBy: String?
        @Nullable var lastUsedAt: Date?
        /// Present only in the create response.
        let clientSecret: String?

        init(_ account: ServiceAccount, clientSecret: String? = nil) {
            id = account.id.lowercased
            tenantID = account.tenantID.lowercased
            number = account.number
            clientID = account.clientID
            name = account.name
            description = account.description
            roles = account.roles
            groups = account.groups
            projects = account.projects
            audiences = account.audiences
            status = account.status.rawValue
            expiresAt = account.expiresAt
            tokenLifetime = account.tokenLifetime
            let binding = account.binding
            dpopBoundAccessTokens = binding.dpopRequired
            certificateBoundAccessTokens = binding.certificateRequired
            selfSigned = binding.selfSigned
            let certificateName = binding.tlsClientAuth
            func value(of kind: TokenBinding.CertificateName.Kind) -> String? {
                certificateName?.kind == kind ? certificateName?.value : nil
            }
            subjectDN = value(of: .subjectDN)
            sanDNS = value(of: .dns)
            sanURI = value(of: .uri)
            sanIP = value(of: .ip)
            sanEmail = value(of: .email)
            createdAt = account.createdAt
            updatedAt = account.updatedAt
            createdBy = account.createdBy
            lastUsedAt = account.lastUsedAt
            self.clientSecret = clientSecret
        }

        enum CodingKeys: String, CodingKey {
            case id, number, name, description, roles, groups, projects, audiences, status
            case tenantID = "tenant_id"
            case clientID = "client_id"
            case expiresAt = "expires_at"
            case tokenLifetime = "token_lifetime"
            case createdAt = "created_at"
            case updatedAt = "updated_at"
            case createdBy = "created_by"
            case lastUsedAt = "last_used_at"
            case clientSecret = "client_secret"
            case dpopBoundAccessTokens = "dpop_bound_access_tokens"
            case certificateBoundAccessTokens = "tls_client_certificate_bound_access_tokens"
            case subjectDN = "tls_client_auth_subject_dn"
            case sanDNS = "tls_client_auth_san_dns"
            case sanURI = "tls_client_auth_san_uri"
            case sanIP = "tls_client_auth_san_ip"
            case sanEmail = "tls_client_auth_san_email"
            case selfSigned = "self_signed_tls_client_auth"
        }
    }

    struct Secret: Encodable {
        let id: String
        let name: String
        @Nullable var description: String?
        let hint: String
        let enabled: Bool
        @Nullable var scopes: [String]?
        let createdAt: Date
        @Nullable var expiresAt: Date?
        @Nullable var lastUsedAt: Date?
        /// The value, shown once at creation: `client_secret` for a secret, `token`
        /// for an API token; absent otherwise.
        let clientSecret: String?
        let token: String?

        init(_ secret: ClientSecret, value: String? = nil) {
            id = secret.id.lowercased
            description = secret.description
            name = secret.name
            hint = secret.hint
            enabled = secret.enabled
            scopes = secret.scopes
            createdAt = secret.createdAt
            expiresAt = secret.expiresAt
            lastUsedAt = secret.lastUsedAt
            clientSecret = secret.kind == .apiToken ? nil : value
            token = secret.kind == .apiToken ? value : nil
        }

        enum CodingKeys: String, CodingKey {
            case id, name, description, hint, enabled, scopes, token
            case createdAt = "created_at"
            case expiresAt = "expires_at"
            case lastUsedAt = "last_used_at"
            case clientSecret = "client_secret"
        }
    }

    struct Key: Encodable {
        let kid: String
        let jwk: JWK
        let createdAt: Date
        @Nullable var expiresAt: Date?

        init(_ key: ClientKey) {
            kid = key.kid
            jwk = key.jwk.publicKey
            createdAt = key.createdAt
            expiresAt = key.expiresAt
        }

        enum CodingKeys: String, CodingKey {
            case kid, jwk
            case createdAt = "created_at"
            case expiresAt = "expires_at"
        }
    }

    struct TenantJSON: Encodable {
        let id: String
        let slug: String
        let number: Int
        let name: String
        @Nullable var accountLimit: Int?
        @Nullable var tokenLifetime: Int?
        @Nullable var defaultAudience: String?
        let createdAt: Date
        let updatedAt: Date

        init(_ tenant: Tenant) {
            id = tenant.id.lowercased
            slug = tenant.slug
            number = tenant.number
            name = tenant.name
            accountLimit = tenant.accountLimit
            tokenLifetime = tenant.tokenLifetime
            defaultAudience = tenant.defaultAudience
            createdAt = tenant.createdAt
            updatedAt = tenant.updatedAt
        }

        enum CodingKeys: String, CodingKey {
            case id, slug, number, name
            case accountLimit = "account_limit"
            case tokenLifetime = "token_lifetime"
            case defaultAudience = "default_audience"
            case createdAt = "created_at"
            case updatedAt = "updated_at"
        }
    }

    struct RoleJSON: Encodable {
        let name: String
        let scopes: [String]
        let builtin: Bool

        init(_ role: Role) {
            name = role.name
            scopes = role.scopes
            builtin = role.builtin
        }
    }

    struct Event: Encodable {
        let id: Int64
        @Nullable var tenantID: String?
        let actor: String
        let action: String
        let resourceType: String
        @Nullable var resourceID: String?
        let outcome: String
        let status: Int
        @Nullable var requestID: String?
        let at: Date
        @Nullable var detail: String?

        init(_ event: AuditEvent) {
            detail = event.detail
            id = event.id
            tenantID = event.tenantID?.lowercased
            actor = event.actor
            action = event.action
            resourceType = event.resourceType
            resourceID = event.resourceID
            outcome = event.outcome.rawValue
            status = event.status
            requestID = event.requestID
            at = event.at
        }

        enum CodingKeys: String, CodingKey {
            case id, actor, action, outcome, status, at, detail
            case tenantID = "tenant_id"
            case resourceType = "resource_type"
            case resourceID = "resource_id"
            case requestID = "request_id"
        }
    }

    /// A signing key as `GET /v1/signing-keys` lists it, never its key material.
    struct SigningKey: Encodable {
        let kid: String
        let alg: String
        let state: String
        let createdAt: Date
        @Nullable var activatesAt: Date?
        @Nullable var activatedAt: Date?
        @Nullable var retiredAt: Date?

        enum CodingKeys: String, CodingKey {
            case kid, alg, state
            case createdAt = "created_at"
            case activatesAt = "activates_at"
            case activatedAt = "activated_at"
            case retiredAt = "retired_at"
        }

        init(_ key: StoredSigningKey) {
            kid = key.kid
            alg = key.algorithm.rawValue
            state = key.state.rawValue
            createdAt = key.createdAt
            activatesAt = key.activatesAt
            activatedAt = key.activatedAt
            retiredAt = key.retiredAt
        }
    }

    /// What `POST /v1/signing-keys/rotate` did.
    struct KeyChange: Encodable {
        let kid: String
        let result: String
        @Nullable var activatesAt: Date?

        enum CodingKeys: String, CodingKey {
            case kid, result
            case activatesAt = "activates_at"
        }
    }

    /// `{"items": [...], "next_cursor": "…" or null}`.
    struct PageJSON<Item: Encodable>: Encodable {
        let items: [Item]
        @Nullable var nextCursor: String?

        enum CodingKeys: String, CodingKey {
            case items
            case nextCursor = "next_cursor"
        }
    }
}

/// Opaque list cursors: base64url of `c1:<position>`.
enum Cursor {
    static func encode(_ position: Int64?) -> String? {
        position.map { Base64URL.encode("c1:\($0)") }
    }

    static func decode(_ text: String) -> Int64? {
        guard text.utf8.count <= 64, let bytes = Base64URL.decode(text), let plain = String(validating: bytes, as: UTF8.self),
            plain.hasPrefix("c1:"), let value = Int64(plain.dropFirst(3)), value >= 0
        else {
            return nil
        }
        return value
    }
}

/// An account, and a page of them, also write themselves (``JSONWritable``): a page of
/// accounts is the largest answer the admin API gives. `RepresentationTests` checks that
/// both forms give the same bytes.
extension Representation.Account: JSONWritable {
    /// The members in the order `JSONCoding.encoder` (`.sortedKeys`) writes them.
    func write(into json: inout JSONOutput) {
        json.beginObject()
        json.member("audiences", audiences)
        json.member("client_id", clientID)
        if let clientSecret { json.member("client_secret", clientSecret) }
        ISO8601.write(createdAt, as: "created_at", into: &json)
        json.member("created_by", orNull: createdBy)
        json.member("description", orNull: description)
        json.member("dpop_bound_access_tokens", dpopBoundAccessTokens)
        if let expiresAt { ISO8601.write(expiresAt, as: "expires_at", into: &json) } else { json.nullMember("expires_at") }
        json.member("groups", groups)
        json.member("id", id)
        if let lastUsedAt { ISO8601.write(lastUsedAt, as: "last_used_at", into: &json) } else { json.nullMember("last_used_at") }
        json.member("name", name)
        json.member("number", Int64(number))
        json.beginArray("projects")
        for membership in projects {
            json.beginObject()
            json.member("project", membership.project)
            json.member("role", membership.role)
            json.endObject()
        }
        json.endArray()
        json.member("roles", roles)
        json.member("self_signed_tls_client_auth", selfSigned)
        json.member("status", status)
        json.member("tenant_id", tenantID)
        json.member("tls_client_auth_san_dns", orNull: sanDNS)
        json.member("tls_client_auth_san_email", orNull: sanEmail)
        json.member("tls_client_auth_san_ip", orNull: sanIP)
        json.member("tls_client_auth_san_uri", orNull: sanURI)
        json.member("tls_client_auth_subject_dn", orNull: subjectDN)
        json.member("tls_client_certificate_bound_access_tokens", certificateBoundAccessTokens)
        if let tokenLifetime { json.member("token_lifetime", Int64(tokenLifetime)) } else { json.nullMember("token_lifetime") }
        ISO8601.write(updatedAt, as: "updated_at", into: &json)
        json.endObject()
    }
}

extension Representation.PageJSON: JSONWritable where Item: JSONWritable {
    var jsonCapacity: Int { 64 + items.reduce(0) { $0 + $1.jsonCapacity } }

    func write(into json: inout JSONOutput) {
        json.beginObject()
        json.beginArray("items")
        for item in items { item.write(into: &json) }
        json.endArray()
        json.member("next_cursor", orNull: nextCursor)
        json.endObject()
    }
}
