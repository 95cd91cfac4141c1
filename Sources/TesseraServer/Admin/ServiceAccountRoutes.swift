import Foundation
import Hummingbird
import TesseraCore

/// The native admin API for service accounts under `/v1/tenants/{tenant}`.
struct ServiceAccountRoutes: Sendable {
    static let maximumBodySize = 64 * 1024

    let tessera: Tessera
    let authentication: AdminAuthentication

    /// An account as the native API renders it.
    struct AccountJSON: Encodable {
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
        let createdAt: Date
        let updatedAt: Date
        let createdBy: String?
        let lastUsedAt: Date?
        /// Present only in the create response.
        let clientSecret: String?

        init(_ account: ServiceAccount, clientSecret: String? = nil) {
            id = account.id.uuidString.lowercased()
            tenantID = account.tenantID.uuidString.lowercased()
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
            case createdAt = "created_at"
            case updatedAt = "updated_at"
            case createdBy = "created_by"
            case lastUsedAt = "last_used_at"
            case clientSecret = "client_secret"
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
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(updatedAt, forKey: .updatedAt)
            try container.encode(createdBy, forKey: .createdBy)
            try container.encode(lastUsedAt, forKey: .lastUsedAt)
            try container.encodeIfPresent(clientSecret, forKey: .clientSecret)
        }
    }

    /// `POST /v1/tenants/{tenant}/service-accounts`
    func create(_ request: Request, context: some RequestContext) async throws -> Response {
        do {
            let principal = try await authentication.principal(request)
            let tenant = try await authentication.tenant(try context.parameters.require("tenant"), for: principal)
            if let contentType = request.headers[.contentType],
               contentType.lowercased().split(separator: ";").first?.trimmingCharacters(in: .whitespaces) != "application/json" {
                throw Problem(.unsupportedMediaType, "the body must be application/json")
            }
            let bytes: [UInt8]
            do {
                bytes = try await request.collectBody(upTo: Self.maximumBodySize)
            } catch is BodyTooLarge {
                throw Problem(.contentTooLarge, "the body exceeds \(Self.maximumBodySize) bytes")
            }
            var reader = try JSONObjectReader(bytes)
            let input = NewServiceAccount(
                name: try reader.string("name"),
                description: try reader.string("description"),
                roles: try reader.stringArray("roles"),
                groups: try reader.stringArray("groups"),
                projects: try reader.objects("projects") { (member: inout JSONObjectReader) throws(Problem) in
                    guard let project = try member.string("project"), let role = try member.string("role") else {
                        throw Problem(.badRequest, "each project needs \"project\" and \"role\"", field: "projects")
                    }
                    return ServiceAccount.ProjectMembership(project: project, role: role)
                },
                audiences: try reader.stringArray("audiences"),
                expiresAt: try reader.date("expires_at")
            )
            try reader.finish()
            let created = try await tessera.accounts.create(in: tenant, input, by: Caller(principal))
            context.logger.info("service account created", metadata: [
                "tenant": "\(tenant.id)", "account": "\(created.account.id)", "actor": "\(principal.accountID)",
            ])
            return .json(
                AccountJSON(created.account, clientSecret: created.clientSecret), status: .created,
                headers: [.location: "/v1/tenants/\(tenant.slug)/service-accounts/\(created.account.id.uuidString.lowercased())"]
            )
        } catch let problem as Problem {
            return problem.response
        } catch let error as DomainError {
            return Problem(error).response
        } catch is StoreError {
            return Problem(.serviceUnavailable, "the store is unavailable", headers: [.retryAfter: "1"]).response
        }
    }
}
