import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// Ctrl Hub's service-account API: JSON:API (`application/vnd.api+json`) at
/// `POST /v3/orgs/{org_id}/iam/service-accounts`, authenticated with an OAuth 2
/// access token of this issuer. The answer carries the account with its first key
/// (`keys[0]`: the secret's id, `client_id`, `client_secret`); the key works at
/// `/oauth2/token` with client credentials. Errors are `{errors: [...]}`.
struct CtrlHubRoutes: Sendable {
    let api: AdminAPI

    static let mediaType = "application/vnd.api+json"
    /// The seed's security schemes: an OAuth 2 access token as Bearer, as the
    /// `X-Session-Token` header, or as the `ctrl_hub_session` cookie.
    static let credentials = DialectCredentials(sessionHeader: .sessionToken, sessionCookie: "ctrl_hub_session")
    /// The problem field that names the path parameter rather than a body member.
    static let orgParameter = "?org_id"
    static let resourceType = "service-accounts"

    func register(on router: Router<TesseraRequestContext>) {
        DialectPipeline(api: api).register(
            DialectRoute(
                method: .post, path: "/v3/orgs/:org/iam/service-accounts", kind: .createAccount,
                credentials: Self.credentials,
                tenant: { call throws(Problem) in
                    // The organisation's UUID, or (beside the seed) its slug; anything else is malformed.
                    guard let reference = call.parameters.get("org"), UUID(uuidString: reference) != nil || Tenant.isValidSlug(reference) else {
                        throw Problem(.badRequest, "org_id must be the organisation's UUID", field: Self.orgParameter)
                    }
                    return .reference(reference)
                },
                parse: { call in try await Self.parse(call) },
                domainError: { error, _ in
                    var problem = Problem(error)
                    problem.field = problem.field.map { "data/attributes/" + $0 }
                    return problem
                },
                render: { outcome, call in try Self.render(outcome, call) },
                failure: { problem, _ in Self.failure(problem) }
            ),
            on: router
        )
    }

    private struct Document: Encodable {
        let data: Resource
        let jsonapi = ["version": "1.0"]
    }

    private struct Resource: Encodable {
        struct Attributes: Encodable {
            let name: String
            let description: String?
            let email: String
            let enabled: Bool
            let keys: [Key]
        }

        struct Key: Encodable {
            let id: String
            let clientID: String
            let clientSecret: String
            let enabled: Bool
            let createdAt: Date

            enum CodingKeys: String, CodingKey {
                case id, enabled
                case clientID = "client_id"
                case clientSecret = "client_secret"
                case createdAt = "created_at"
            }
        }

        struct Meta: Encodable {
            let createdAt: Date
            let updatedAt: Date

            enum CodingKeys: String, CodingKey {
                case createdAt = "created_at"
                case updatedAt = "updated_at"
            }
        }

        struct Identifier: Encodable {
            let id: String
            let type: String
        }

        struct Relationship: Encodable {
            let data: [Identifier]
        }

        let id: String
        let type = CtrlHubRoutes.resourceType
        let attributes: Attributes
        let meta: Meta
        let relationships: [String: Relationship]
    }

    private struct Errors: Encodable {
        struct Item: Encodable {
            /// JSON:API's error source: a JSON pointer into the body, or a parameter.
            struct Source: Encodable {
                var pointer: String?
                var parameter: String?
            }

            let id: String
            let status: String
            let title: String
            let detail: String
            let code: String?
            let source: Source?
        }

        let errors: [Item]
    }

    /// The seed documents 400, 401, 409 and 500: a caller without the admin scope
    /// (or of another organisation) gets its 401 `AUTH.001`, bad media types and
    /// sizes its 400; throttling and an unavailable store keep their own status.
    private static func failure(_ problem: Problem) -> Response {
        let status: HTTPResponse.Status
        let title: String
        var code: String?
        switch problem.status {
        case .forbidden where problem.field == "data/id":
            status = .forbidden
            title = "Forbidden"
        case .unauthorized, .forbidden, .notFound:
            status = .unauthorized
            title = "You are not authorised to access this resource"
            code = "AUTH.001"
        case .conflict:
            status = .conflict
            title = "Conflict"
            code = "CONFLICT.001"
        case .badRequest, .unsupportedMediaType, .contentTooLarge:
            status = .badRequest
            title = "A validation error was encountered"
        case .internalServerError:
            status = .internalServerError
            title = "Internal Server Error"
        default:
            status = problem.status
            title = problem.status.reasonPhrase
        }
        var headers = problem.headers
        if status == .unauthorized { headers[.wwwAuthenticate] = AdminAuthentication.challenge }
        let item = Errors.Item(
            id: UUID().uuidString.lowercased(), status: String(status.code), title: title, detail: problem.detail, code: code,
            source: problem.field.map { field in
                field.hasPrefix("?") ? .init(parameter: String(field.dropFirst())) : .init(pointer: "/" + field)
            }
        )
        return .json(Errors(errors: [item]), status: status, contentType: mediaType, headers: headers)
    }

    private static func parse(_ call: DialectRequest) async throws -> DialectAction {
        var document = try await call.body(accepting: [Self.mediaType, "application/json"])
        let input = try document.object("data") { data throws(Problem) -> NewServiceAccount in
            guard let type = try data.string("type") else { throw Problem(.badRequest, "type is required", field: "type") }
            // JSON:API §Creating Resources: a type the collection does not hold is 409.
            guard type == Self.resourceType else {
                throw Problem(.conflict, "type must be \(Self.resourceType)", field: "type")
            }
            // JSON:API §Client-Generated IDs: a server that assigns ids answers 403.
            if data.has("id") {
                throw Problem(.forbidden, "the server assigns service account ids; leave out data.id", field: "id")
            }
            // Legal JSON:API members of a resource object that creation does not use.
            data.ignore("relationships")
            data.ignore("meta")
            data.ignore("links")
            let input = try data.object("attributes") { attributes throws(Problem) -> NewServiceAccount in
                guard let name = try attributes.string("name"), !name.isEmpty else {
                    throw Problem(.badRequest, "name is required", field: "name")
                }
                return NewServiceAccount(name: name, description: try attributes.string("description"))
            }
            guard let input else { throw Problem(.badRequest, "attributes is required", field: "attributes") }
            return input
        }
        document.ignore("jsonapi")
        document.ignore("meta")
        try document.finish()
        guard let input else { throw Problem(.badRequest, "data is required", field: "data") }
        return .createAccount(input)
    }

    private static func render(_ outcome: DialectOutcome, _ call: DialectRequest) throws -> Response {
        guard case .accountCreated(let created, _, _, _) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
        let tenant = try call.resolvedTenant
        let account = created.account
        let resource = Resource(
            id: account.id.uuidString.lowercased(),
            attributes: .init(
                name: account.name, description: account.description,
                email: ServiceAccountEmail.of(name: account.name, tenantSlug: tenant.slug), enabled: account.status == .active,
                keys: [.init(
                    id: created.secret.id.uuidString.lowercased(), clientID: account.clientID, clientSecret: created.clientSecret,
                    enabled: created.secret.enabled, createdAt: created.secret.createdAt
                )]
            ),
            meta: .init(createdAt: account.createdAt, updatedAt: account.updatedAt),
            relationships: [
                "groups": .init(data: []),
                "organisations": .init(data: [.init(id: tenant.id.uuidString.lowercased(), type: "organisations")]),
            ]
        )
        return .json(Document(data: resource), contentType: Self.mediaType)
    }
}
