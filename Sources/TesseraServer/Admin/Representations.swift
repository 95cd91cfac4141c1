import Foundation
import TesseraCore
import TesseraJOSE

/// How the native API renders its resources.
enum Representation {
    struct Account: Encodable {
        let id: String
        let tenantID: String
        let number: Int
        let clientID: String
        let name: String
        let description: String?
        let roles: [String]
        let groups: [String]
        let projects: [ServiceAccount.ProjectMembership]
        let audiences: [String]
        let status: String
        let expiresAt: Date?
        let tokenLifetime: Int?
        let binding: TokenBinding
        let createdAt: Date
        let updatedAt: Date
        let createdBy: String?
        let lastUsedAt: Date?
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
            binding = account.binding
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

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(tenantID, forKey: .tenantID)
            try container.encode(number, forKey: .number)
            try container.encode(clientID, forKey: .clientID)
            try container.encode(name, forKey: .name)
            try container.encode(description, forKey: .description)
            try container.encode(roles, forKey: .roles)
            try container.encode(groups, forKey: .groups)
            try container.encode(projects, forKey: .projects)
            try container.encode(audiences, forKey: .audiences)
            try container.encode(status, forKey: .status)
            try container.encode(expiresAt, forKey: .expiresAt)
            try container.encode(tokenLifetime, forKey: .tokenLifetime)
            try container.encode(binding.dpopRequired, forKey: .dpopBoundAccessTokens)
            try container.encode(binding.certificateRequired, forKey: .certificateBoundAccessTokens)
            try container.encode(binding.selfSigned, forKey: .selfSigned)
            let name = binding.tlsClientAuth
            for (kind, key) in [
                (TokenBinding.CertificateName.Kind.subjectDN, CodingKeys.subjectDN), (.dns, .sanDNS), (.uri, .sanURI), (.ip, .sanIP), (.email, .sanEmail),
            ] {
                try container.encode(name?.kind == kind ? name?.value : nil, forKey: key)
            }
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(updatedAt, forKey: .updatedAt)
            try container.encode(createdBy, forKey: .createdBy)
            try container.encode(lastUsedAt, forKey: .lastUsedAt)
            try container.encodeIfPresent(clientSecret, forKey: .clientSecret)
        }
    }

    struct Secret: Encodable {
        let id: String
        let name: String
        let description: String?
        let hint: String
        let enabled: Bool
        let scopes: [String]?
        let createdAt: Date
        let expiresAt: Date?
        let lastUsedAt: Date?
        /// The value, shown once at creation: `client_secret` for a secret, `token`
        /// for an API token.
        let value: String?
        let kind: ClientSecret.Kind

        init(_ secret: ClientSecret, value: String? = nil) {
            id = secret.id.lowercased
            kind = secret.kind
            description = secret.description
            name = secret.name
            hint = secret.hint
            enabled = secret.enabled
            scopes = secret.scopes
            createdAt = secret.createdAt
            expiresAt = secret.expiresAt
            lastUsedAt = secret.lastUsedAt
            self.value = value
        }

        enum CodingKeys: String, CodingKey {
            case id, name, description, hint, enabled, scopes
            case createdAt = "created_at"
            case expiresAt = "expires_at"
            case lastUsedAt = "last_used_at"
            case clientSecret = "client_secret"
            case token
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(name, forKey: .name)
            try container.encode(description, forKey: .description)
            try container.encode(hint, forKey: .hint)
            try container.encode(enabled, forKey: .enabled)
            try container.encode(scopes, forKey: .scopes)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(expiresAt, forKey: .expiresAt)
            try container.encode(lastUsedAt, forKey: .lastUsedAt)
            try container.encodeIfPresent(value, forKey: kind == .apiToken ? .token : .clientSecret)
        }
    }

    struct Key: Encodable {
        let kid: String
        let jwk: JWK
        let createdAt: Date
        let expiresAt: Date?

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

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kid, forKey: .kid)
            try container.encode(jwk, forKey: .jwk)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(expiresAt, forKey: .expiresAt)
        }
    }

    struct TenantJSON: Encodable {
        let id: String
        let slug: String
        let number: Int
        let name: String
        let accountLimit: Int?
        let tokenLifetime: Int?
        let defaultAudience: String?
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

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(slug, forKey: .slug)
            try container.encode(number, forKey: .number)
            try container.encode(name, forKey: .name)
            try container.encode(accountLimit, forKey: .accountLimit)
            try container.encode(tokenLifetime, forKey: .tokenLifetime)
            try container.encode(defaultAudience, forKey: .defaultAudience)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(updatedAt, forKey: .updatedAt)
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
        let tenantID: String?
        let actor: String
        let action: String
        let resourceType: String
        let resourceID: String?
        let outcome: String
        let status: Int
        let requestID: String?
        let at: Date
        let detail: String?

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

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(tenantID, forKey: .tenantID)
            try container.encode(actor, forKey: .actor)
            try container.encode(action, forKey: .action)
            try container.encode(resourceType, forKey: .resourceType)
            try container.encode(resourceID, forKey: .resourceID)
            try container.encode(outcome, forKey: .outcome)
            try container.encode(status, forKey: .status)
            try container.encode(requestID, forKey: .requestID)
            try container.encode(at, forKey: .at)
            try container.encode(detail, forKey: .detail)
        }
    }

    /// A signing key as `GET /v1/signing-keys` lists it, never its key material.
    struct SigningKey: Encodable {
        let kid: String
        let alg: String
        let state: String
        let createdAt: Date
        let activatesAt: Date?
        let activatedAt: Date?
        let retiredAt: Date?

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

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kid, forKey: .kid)
            try container.encode(alg, forKey: .alg)
            try container.encode(state, forKey: .state)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(activatesAt, forKey: .activatesAt)
            try container.encode(activatedAt, forKey: .activatedAt)
            try container.encode(retiredAt, forKey: .retiredAt)
        }
    }

    /// What `POST /v1/signing-keys/rotate` did.
    struct KeyChange: Encodable {
        let kid: String
        let result: String
        let activatesAt: Date?

        enum CodingKeys: String, CodingKey {
            case kid, result
            case activatesAt = "activates_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kid, forKey: .kid)
            try container.encode(result, forKey: .result)
            try container.encode(activatesAt, forKey: .activatesAt)
        }
    }

    /// `{"items": [...], "next_cursor": "…" or null}`.
    struct PageJSON<Item: Encodable>: Encodable {
        let items: [Item]
        let nextCursor: String?

        enum CodingKeys: String, CodingKey {
            case items
            case nextCursor = "next_cursor"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(items, forKey: .items)
            try container.encode(nextCursor, forKey: .nextCursor)
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
