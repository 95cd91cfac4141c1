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

    /// What an organisation the caller may not administer answers (the seed's 401
    /// `AUTH.001`), told apart from an account that does not exist (404).
    static let refusal = "In order to access this resource, you need the 'admin' role in this organisation."
    static let collection = "/v3/orgs/:org/iam/service-accounts"
    static let keyType = "service-account-keys"
    /// RFC 3986's unreserved characters: all a query value keeps unencoded.
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    static let defaultPageSize = 10
    static let maximumPageSize = 100

    func register(on router: Router<TesseraRequestContext>) {
        let surface = DialectSurface(
            credentials: Self.credentials,
            tenant: { call throws(Problem) in
                // The organisation's UUID, or (beside the seed) its slug; anything else is malformed.
                guard let reference = call.parameters.get("org"), UUID(uuidString: reference) != nil || Tenant.isValidSlug(reference) else {
                    throw Problem(.badRequest, "org_id must be the organisation's UUID", field: Self.orgParameter)
                }
                return .reference(reference)
            },
            refusals: TenantRefusals(notFound: Self.refusal, forbidden: Self.refusal),
            domainError: { error, _ in
                var problem = Problem(error)
                problem.field = problem.field.map { "data/attributes/" + $0 }
                return problem
            },
            resourceID: { call in call.parameters.get("key") ?? call.parameters.get("id") },
            failure: { problem, _ in Self.failure(problem) }
        )
        let routes = DialectRoutes(pipeline: DialectPipeline(api: api), surface: surface, router: router, prefix: Self.collection)
        routes.on(
            .post, "", .createAccount, parse: { call in try await Self.parse(call) },
            render: { outcome, call in
                guard case .accountCreated(let created, let permissions, let creator, _) = outcome else {
                    throw Problem(.internalServerError, "unexpected outcome")
                }
                let described = DescribedAccount(
                    account: created.account, permissions: permissions, creator: creator, secrets: created.secret.map { [$0] } ?? [])
                return Self.document(Document(data: try Self.resource(described, call, secret: created.clientSecret)))
            })
        routes.on(
            .get, "", .listAccounts,
            parse: { call in
                let query = try QueryParameters(call.request)
                let (limit, offset) = try Self.paging(query)
                return .listAccountsAt(ServiceAccountFilter(), exactName: query["filter[name]"], offset: offset, limit: limit)
            },
            render: { outcome, call in
                guard case .accountsAt(let items, let total) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                let query = try QueryParameters(call.request)
                let (limit, offset) = try Self.paging(query)
                let tenant = try call.resolvedTenant
                let name = query["filter[name]"]
                func link(_ offset: Int) -> String {
                    var link = "/v3/orgs/\(call.parameters.get("org") ?? tenant.id.lowercased)/iam/service-accounts?limit=\(limit)&offset=\(offset)"
                    if let name { link += "&filter%5Bname%5D=" + (name.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? "") }
                    return link
                }
                let next = offset + limit < total ? offset + limit : nil
                let previous = offset > 0 ? max(0, offset - limit) : nil
                let meta = ListMeta(
                    pagination: .init(
                        counts: .init(resources: total, pages: (total + limit - 1) / limit), currentPage: offset / limit + 1,
                        offsets: .init(next: next, previous: previous), requested: .init(limit: limit, offset: offset)
                    ))
                return Self.document(
                    ListDocument(
                        data: try items.map { try Self.resource($0, call) }, meta: meta,
                        links: .init(current: link(offset), next: next.map(link), previous: previous.map(link))
                    ))
            })
        routes.on(
            .get, "/:id", .getAccount, parse: { call in .getAccount(try call.account()) },
            render: { outcome, call in
                guard case .account(let described) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                return Self.document(Document(data: try Self.resource(described, call)))
            })
        routes.on(
            .delete, "/:id", .deleteAccount, parse: { call in .deleteAccount(try call.account()) },
            render: { _, _ in
                Response(status: .noContent)
            })
        routes.on(
            .post, "/:id/keys", .createSecret(.clientSecret),
            parse: { call in
                let reference = try call.account()
                var document = try await call.body(accepting: [Self.mediaType, "application/json"])
                let valid = try document.object("data") { data throws(Problem) -> Bool in
                    guard let type = try data.string("type") else { throw Problem(.badRequest, "type is required", field: "type") }
                    guard type == Self.keyType else { throw Problem(.conflict, "type must be \(Self.keyType)", field: "type") }
                    if data.has("id") { throw Problem(.forbidden, "the server assigns key ids; leave out data.id", field: "id") }
                    data.ignore("attributes")
                    data.ignore("relationships")
                    data.ignore("meta")
                    return true
                }
                document.ignore("jsonapi")
                document.ignore("meta")
                try document.finish()
                guard valid == true else { throw Problem(.badRequest, "data is required", field: "data") }
                // A key has no name in Ctrl Hub; the secret's name is unique per account.
                return .createSecret(for: reference, NewClientSecret(name: "key-" + String(UUID().lowercased.prefix(13))))
            },
            render: { outcome, _ in
                guard case .secretCreated(let created, let account) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                return Self.document(KeyDocument(data: .init(created.secret, account: account, secret: created.clientSecret)))
            })
        routes.on(
            .patch, "/:id/keys/:key", .updateSecret(.clientSecret),
            parse: { call in
                let reference = try call.account()
                let key = try Self.key(call)
                var document = try await call.body(accepting: [Self.mediaType, "application/json"])
                let enabled = try document.object("data") { data throws(Problem) -> Bool in
                    guard let type = try data.string("type") else { throw Problem(.badRequest, "type is required", field: "type") }
                    guard type == Self.keyType else { throw Problem(.conflict, "type must be \(Self.keyType)", field: "type") }
                    // JSON:API §Updating Resources: the id in the body must be the one in the URL.
                    guard let id = try data.string("id") else { throw Problem(.badRequest, "id is required", field: "id") }
                    guard UUID(uuidString: id) == key else { throw Problem(.conflict, "data.id must be the key's id in the URL", field: "id") }
                    data.ignore("relationships")
                    data.ignore("meta")
                    let enabled = try data.object("attributes") { attributes throws(Problem) -> Bool in
                        guard let enabled = try attributes.bool("enabled") else { throw Problem(.badRequest, "enabled is required", field: "enabled") }
                        return enabled
                    }
                    guard let enabled else { throw Problem(.badRequest, "attributes is required", field: "attributes") }
                    return enabled
                }
                document.ignore("jsonapi")
                document.ignore("meta")
                try document.finish()
                guard let enabled else { throw Problem(.badRequest, "data is required", field: "data") }
                return .updateSecret(reference, secret: key, .clientSecret, enabled: enabled)
            },
            render: { outcome, _ in
                guard case .secretUpdated(let secret, let account) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                return Self.document(KeyDocument(data: .init(secret, account: account)))
            })
        routes.on(
            .delete, "/:id/keys/:key", .deleteSecret(.clientSecret),
            parse: { call in
                .deleteSecret(try call.account(), secret: try Self.key(call), .clientSecret)
            }, render: { _, _ in Response(status: .noContent) })
    }

    private static func key(_ call: DialectRequest) throws(Problem) -> UUID {
        guard let id = call.parameters.get("key").flatMap(UUID.init(uuidString:)) else { throw Problem(.notFound, "key not found") }
        return id
    }

    /// `limit` (1–100, default 10) and `offset` (≥ 0, default 0), as Ctrl Hub's SDK sends them.
    private static func paging(_ query: QueryParameters) throws(Problem) -> (limit: Int, offset: Int) {
        var limit = Self.defaultPageSize, offset = 0
        if let text = query["limit"] {
            guard let value = Int(text), (1...Self.maximumPageSize).contains(value) else {
                throw Problem(.badRequest, "limit must be an integer from 1 to \(Self.maximumPageSize)", field: "?limit")
            }
            limit = value
        }
        if let text = query["offset"] {
            guard let value = Int(text), value >= 0, value <= DialectPipeline.offsetWindow else {
                throw Problem(.badRequest, "offset must be an integer from 0 to \(DialectPipeline.offsetWindow)", field: "?offset")
            }
            offset = value
        }
        return (limit, offset)
    }

    private static func document(_ body: some Encodable) -> Response {
        .json(body, contentType: Self.mediaType)
    }

    /// The seed documents 400, 401, 409 and 500: a caller without the admin scope
    /// (or of another organisation) gets its 401 `AUTH.001` (the seed's example says
    /// so of a missing role), bad media types and sizes its 400; an account or key
    /// that does not exist is JSON:API's 404; throttling and an unavailable store
    /// keep their own status.
    static func failure(_ problem: Problem) -> Response {
        let status: HTTPResponse.Status
        let title: String
        var code: String?
        switch problem.status {
        case .forbidden where problem.field == "data/id":
            status = .forbidden
            title = "Forbidden"
        case .notFound where problem.detail != Self.refusal:
            status = .notFound
            title = "Not Found"
            code = "NOT_FOUND.001"
        case .unauthorized, .forbidden, .notFound:
            status = .unauthorized
            title = "You are not authorised to access this resource"
            code = "AUTH.001"
        case .conflict:
            status = .conflict
            title = "Conflict"
            code = "CONFLICT.001"
        case .badRequest, .unsupportedMediaType, .contentTooLarge, .unprocessableContent:
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
            id: UUID().lowercased, status: String(status.code), title: title, detail: problem.detail, code: code,
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

    /// The resource object of an account; its keys carry `client_secret` only when
    /// `secret` is given (on creation, for its first key).
    static func resource(_ described: DescribedAccount, _ call: DialectRequest, secret: String? = nil) throws -> Resource {
        let tenant = try call.resolvedTenant
        let account = described.account
        return Resource(
            id: account.id.lowercased,
            attributes: .init(
                name: account.name, description: account.description,
                email: ServiceAccountEmail.of(name: account.name, tenantSlug: tenant.slug), enabled: account.status == .active,
                keys: described.secrets.map { Resource.Key($0, account: account, secret: secret) }
            ),
            meta: .init(createdAt: account.createdAt, updatedAt: account.updatedAt),
            relationships: [
                "groups": .init(data: []),
                "organisations": .init(data: [.init(id: tenant.id.lowercased, type: "organisations")]),
            ]
        )
    }
}
