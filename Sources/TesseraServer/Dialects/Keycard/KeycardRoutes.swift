import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// Keycard's service-account API under `/organizations/{organization_id}/service-accounts`
/// (the organisation by id or slug): create (201), list (cursor pages `after`/`before`
/// with `page_info`), retrieve, update (`PATCH {name?, description?}`), delete (204),
/// and an account's credentials (client secrets: create, list, retrieve, delete).
/// Ids are 26-character URL-safe strings; an `X-Client-Request-ID` (UUID) is echoed;
/// `expand[]=permissions` adds the caller's permissions. Errors are Keycard's
/// `{message, code, status}`.
struct KeycardRoutes: Sendable {
    let api: AdminAPI

    static let base = "/organizations/:organization/service-accounts"
    static let defaultPageSize = 50
    static let maximumPageSize = 100

    func register(on router: Router<TesseraRequestContext>) {
        let surface = DialectSurface(
            precheck: { call throws(Problem) in
                _ = try QueryParameters(call.request)
                if let given = call.request.headers[.clientRequestID], UUID(uuidString: given) == nil {
                    throw Problem(.badRequest, "X-Client-Request-ID must be a UUID", field: "X-Client-Request-ID")
                }
            },
            tenant: { call throws(Problem) in
                guard let organization = call.parameters.get("organization"), (1...255).contains(organization.count) else {
                    throw Problem(.badRequest, "organization_id must be 1–255 characters", field: "organization_id")
                }
                return .reference(organization)
            },
            refusals: TenantRefusals(notFound: "organization not found", forbidden: "managing service accounts requires an administrator"),
            resourceID: { call in call.parameters.get("credential") ?? call.parameters.get("id") },
            failure: { problem, call in Self.echoingRequestID(Self.failure(problem), call) }
        )
        let routes = DialectRoutes(pipeline: DialectPipeline(api: api), surface: surface, router: router, prefix: Self.base)
        // Every answer echoes a valid X-Client-Request-ID.
        func route(
            _ method: HTTPRequest.Method, _ path: String, _ kind: DialectAction.Kind,
            parse: @escaping @Sendable (DialectRequest) async throws -> DialectAction,
            render: @escaping @Sendable (DialectOutcome, DialectRequest) throws -> Response
        ) {
            routes.on(method, path, kind, parse: parse, render: { outcome, call in Self.echoingRequestID(try render(outcome, call), call) })
        }

        route(
            .post, "", .createAccount,
            parse: { call in
                var reader = try await call.body()
                guard let name = try reader.string("name") else { throw Problem(.badRequest, "name is required", field: "name") }
                let description = try reader.string("description")
                try reader.finish()
                // Keycard's accounts get their credentials by `POST …/credentials`: none at creation.
                return .createAccount(NewServiceAccount(name: name, description: description, issuesSecret: false))
            },
            render: { outcome, call in
                guard case .accountCreated(let created, let permissions, let creator, _) = outcome else {
                    throw Problem(.internalServerError, "unexpected outcome")
                }
                let described = DescribedAccount(account: created.account, permissions: permissions, creator: creator)
                return .json(try Self.account(described, call), status: .created)
            })
        route(
            .get, "", .listAccounts,
            parse: { call in
                let query = try QueryParameters(call.request)
                var limit = Self.defaultPageSize
                if let text = query["limit"] {
                    guard let value = Int(text), (1...Self.maximumPageSize).contains(value) else {
                        throw Problem(.badRequest, "limit must be an integer from 1 to \(Self.maximumPageSize)", field: "limit")
                    }
                    limit = value
                }
                var filter = ServiceAccountFilter()
                var after: Int64?
                switch (query["after"], query["before"]) {
                case (.some, .some):
                    throw Problem(.badRequest, "give after or before, not both", field: "after")
                case (.some(let cursor), nil):
                    guard let position = Cursor.decode(cursor) else { throw Problem(.badRequest, "after is not a cursor this API issued", field: "after") }
                    after = position
                case (nil, .some(let cursor)):
                    guard let position = Cursor.decode(cursor), let number = Int(exactly: position) else {
                        throw Problem(.badRequest, "before is not a cursor this API issued", field: "before")
                    }
                    filter.beforeNumber = number
                case (nil, nil):
                    break
                }
                return .listAccounts(filter, after: after, limit: limit)
            },
            render: { outcome, call in
                guard case .accounts(let items, let next) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                let query = try QueryParameters(call.request)
                let backwards = query["before"] != nil
                let pageInfo = PageInfo(
                    hasNextPage: backwards ? true : next != nil,
                    hasPreviousPage: backwards ? next != nil : query["after"] != nil,
                    startCursor: items.first.flatMap { Cursor.encode(Int64($0.account.number)) },
                    endCursor: items.last.flatMap { Cursor.encode(Int64($0.account.number)) }
                )
                return .json(
                    Page(
                        items: try items.map { try Self.account($0, call) }, pageInfo: pageInfo, permissions: try Self.permissions(call)
                    ))
            })
        route(
            .get, "/:id", .getAccount, parse: { call in .getAccount(try call.account()) },
            render: { outcome, call in
                guard case .account(let described) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                return .json(try Self.account(described, call))
            })
        route(
            .patch, "/:id", .updateAccount,
            parse: { call in
                let reference = try call.account()
                var reader = try await call.body()
                let name = try reader.string("name")
                let description = try reader.string("description")
                try reader.finish()
                return .updateAccount(reference, ServiceAccountPatch(name: name, description: description.map { .some($0) }))
            },
            render: { outcome, call in
                guard case .account(let described) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                return .json(try Self.account(described, call))
            })
        route(
            .delete, "/:id", .deleteAccount, parse: { call in .deleteAccount(try call.account()) },
            render: { _, _ in
                Response(status: .noContent)
            })

        // Credentials: client secrets, their `client_id` the account's.
        route(
            .post, "/:id/credentials", .createSecret(.clientSecret),
            parse: { call in
                let reference = try call.account()
                var reader = try await call.body()
                guard let name = try reader.string("name") else { throw Problem(.badRequest, "name is required", field: "name") }
                let description = try reader.string("description")
                try reader.finish()
                return .createSecret(for: reference, NewClientSecret(name: name, description: description))
            },
            render: { outcome, _ in
                guard case .secretCreated(let created, let account) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                return .json(Credential(created.secret, account: account, secret: created.clientSecret), status: .created)
            })
        route(
            .get, "/:id/credentials", .listSecrets, parse: { call in .listSecrets(try call.account(), .clientSecret) },
            render: { outcome, _ in
                guard case .secrets(let secrets, let account) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                let items = secrets.map { Credential($0, account: account) }
                return .json(
                    CredentialPage(
                        items: items, pageInfo: PageInfo(hasNextPage: false, hasPreviousPage: false, startCursor: nil, endCursor: nil)
                    ))
            })
        route(
            .get, "/:id/credentials/:credential", .listSecrets, parse: { call in .listSecrets(try call.account(), .clientSecret) },
            render: { outcome, call in
                guard case .secrets(let secrets, let account) = outcome else { throw Problem(.internalServerError, "unexpected outcome") }
                guard let id = Self.credential(call), let secret = secrets.first(where: { $0.id == id }) else {
                    throw Problem(.notFound, "credential not found")
                }
                return .json(Credential(secret, account: account))
            })
        route(
            .delete, "/:id/credentials/:credential", .deleteSecret(.clientSecret),
            parse: { call in
                let reference = try call.account()
                guard let id = Self.credential(call) else { throw Problem(.notFound, "credential not found") }
                return .deleteSecret(reference, secret: id, .clientSecret)
            }, render: { _, _ in Response(status: .noContent) })
    }

    /// The credential the `{credential}` segment names: its 26-character id, as
    /// Keycard's ids are (the UUID is accepted too).
    private static func credential(_ call: DialectRequest) -> UUID? {
        guard let text = call.parameters.get("credential") else { return nil }
        return Crockford32.decodeUUID(text) ?? UUID(uuidString: text)
    }

    /// A valid `X-Client-Request-ID` is sent back on every answer.
    private static func echoingRequestID(_ response: Response, _ call: DialectRequest) -> Response {
        guard let given = call.request.headers[.clientRequestID], UUID(uuidString: given) != nil else { return response }
        var response = response
        response.headers[.clientRequestID] = given
        return response
    }

    /// Keycard's error object; the status keeps its headers (`WWW-Authenticate`, `Retry-After`).
    private struct Failure: Encodable {
        let message: String
        let code: String
        let status: Int
    }

    private static func failure(_ problem: Problem) -> Response {
        let status: HTTPResponse.Status = problem.status == .unprocessableContent ? .badRequest : problem.status
        let code =
            switch status {
            case .badRequest, .unsupportedMediaType, .contentTooLarge: "invalid_request"
            case .unauthorized: "unauthorized"
            case .forbidden: "forbidden"
            case .notFound: "not_found"
            case .conflict: "conflict"
            case .tooManyRequests: "rate_limited"
            case .serviceUnavailable: "service_unavailable"
            default: "internal_error"
            }
        return .json(Failure(message: problem.detail, code: code, status: Int(status.code)), status: status, headers: problem.headers)
    }

    private struct Account: Encodable {
        let id: String
        let createdAt: String
        let name: String
        let updatedAt: String
        let description: String?
        let permissions: [String: [String: Bool]]?

        enum CodingKeys: String, CodingKey {
            case id, name, description, permissions
            case createdAt = "created_at"
            case updatedAt = "updated_at"
        }
    }

    private struct PageInfo: Encodable {
        let hasNextPage: Bool
        let hasPreviousPage: Bool
        let startCursor: String?
        let endCursor: String?

        enum CodingKeys: String, CodingKey {
            case hasNextPage = "has_next_page"
            case hasPreviousPage = "has_prev_page"
            case startCursor = "start_cursor"
            case endCursor = "end_cursor"
        }
    }

    private struct Page: Encodable {
        let items: [Account]
        let pageInfo: PageInfo
        let permissions: [String: [String: Bool]]?

        enum CodingKeys: String, CodingKey {
            case items, permissions
            case pageInfo = "page_info"
        }
    }

    private struct Credential: Encodable {
        let id: String
        let clientID: String
        let clientSecret: String?
        let createdAt: String
        let name: String
        let description: String?
        let lastUsedAt: String?

        init(_ secret: ClientSecret, account: ServiceAccount, secret value: String? = nil) {
            description = secret.description
            id = Crockford32.encode(secret.id).lowercased()
            clientID = account.clientID
            clientSecret = value
            createdAt = RezolveRoutes.timestamp(secret.createdAt)
            name = secret.name
            lastUsedAt = secret.lastUsedAt.map(RezolveRoutes.timestamp)
        }

        enum CodingKeys: String, CodingKey {
            case id, name, description
            case clientID = "client_id"
            case clientSecret = "client_secret"
            case createdAt = "created_at"
            case lastUsedAt = "last_used_at"
        }
    }

    private struct CredentialPage: Encodable {
        let items: [Credential]
        let pageInfo: PageInfo

        enum CodingKeys: String, CodingKey {
            case items
            case pageInfo = "page_info"
        }
    }

    /// The caller's permissions when `expand[]=permissions` (or `expand=permissions`) is asked for.
    private static func permissions(_ call: DialectRequest) throws -> [String: [String: Bool]]? {
        let query = try QueryParameters(call.request)
        guard (query.all("expand[]") + query.all("expand")).contains("permissions"), let principal = call.principal else { return nil }
        let administers = principal.mayAdminister(tenantID: try call.resolvedTenant.id)
        return [
            "organizations": ["read": true, "update": principal.isSuperAdmin],
            "service_accounts": ["create": administers, "read": administers, "update": administers, "delete": administers, "list": administers],
        ]
    }

    private static func account(_ described: DescribedAccount, _ call: DialectRequest) throws -> Account {
        let account = described.account
        return Account(
            id: Crockford32.encode(account.id).lowercased(), createdAt: RezolveRoutes.timestamp(account.createdAt), name: account.name,
            updatedAt: RezolveRoutes.timestamp(account.updatedAt), description: account.description, permissions: try permissions(call)
        )
    }
}
