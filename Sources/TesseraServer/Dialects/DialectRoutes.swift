import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// How a seed API's caller may prove who it is. An access token of this issuer is
/// always accepted as `Authorization: Bearer`; a dialect may accept more.
struct DialectCredentials: Sendable {
    /// `Authorization: Basic <client_id:secret>`, checked as at the token endpoint.
    var basic = false
    /// A header that carries the access token itself (Ctrl Hub's `X-Session-Token`).
    var sessionHeader: HTTPField.Name?
    /// A cookie that carries the access token (Ctrl Hub's `ctrl_hub_session`).
    var sessionCookie: String?

    static let bearer = DialectCredentials()
    static let bearerOrBasic = DialectCredentials(basic: true)
}

/// Where an operation's tenant comes from.
enum TenantLocator: Sendable {
    /// A tenant's id or slug, as the native API takes it.
    case reference(String)
    /// A tenant's id or slug, looked up through the tenant cache: for requests that
    /// change nothing.
    case cached(String)
    /// A tenant's integer number.
    case number(Int)
    /// The caller's own tenant.
    case callers
}

/// What a refused tenant answers: one that does not exist and one the caller may
/// not see answer alike, so tenants cannot be discovered.
struct TenantRefusals: Sendable {
    var notFound = "tenant not found"
    var forbidden = "the access token lacks the scope \(TesseraScope.admin)"
}

/// One operation of a seed API. It declares only what differs from the native
/// API: its route, how its caller authenticates, where its tenant comes from, how
/// its request reads and how its answers and errors look. ``DialectPipeline``
/// runs the rest in one order for every dialect: authenticate, resolve the tenant
/// and the caller's right to administer it, read the request, run the action
/// through the use cases, write the audit event (refusals of an authenticated
/// caller included), render.
struct DialectRoute: Sendable {
    var method: HTTPRequest.Method
    var path: String
    /// The action this route performs; its audit event follows from it.
    var kind: DialectAction.Kind
    var credentials: DialectCredentials = .bearer
    /// Runs before authentication: header checks that every answer depends on.
    var precheck: @Sendable (DialectRequest) throws(Problem) -> Void = { _ throws(Problem) in }
    var tenant: @Sendable (DialectRequest) throws(Problem) -> TenantLocator
    var refusals = TenantRefusals()
    /// Reads the request into the action.
    var parse: @Sendable (DialectRequest) async throws -> DialectAction
    /// What a domain refusal of the action answers (a field path, a message in the
    /// dialect's words); by default the problem the native API answers.
    var domainError: @Sendable (DomainError, DialectAction) -> Problem = { error, _ in Problem(error) }
    /// The id a refused change is recorded under in the audit log (a path
    /// parameter, as given); `nil` for a creation.
    var resourceID: @Sendable (DialectRequest) -> String? = { _ in nil }
    var render: @Sendable (DialectOutcome, DialectRequest) throws -> Response
    /// Every error, in the dialect's own shape and statuses.
    var failure: @Sendable (Problem, DialectRequest) -> Response
}

/// What every route of one dialect shares: how its callers authenticate, where its
/// tenant comes from, how refusals and domain errors read, what a refused change is
/// recorded under, and its error shape.
struct DialectSurface: Sendable {
    var credentials: DialectCredentials = .bearer
    var precheck: @Sendable (DialectRequest) throws(Problem) -> Void = { _ throws(Problem) in }
    var tenant: @Sendable (DialectRequest) throws(Problem) -> TenantLocator
    var refusals = TenantRefusals()
    var domainError: @Sendable (DomainError, DialectAction) -> Problem = { error, _ in Problem(error) }
    /// By default the `{id}` path parameter.
    var resourceID: @Sendable (DialectRequest) -> String? = { call in call.parameters.get("id") }
    var failure: @Sendable (Problem, DialectRequest) -> Response
}

/// Registers one dialect's routes: each is the dialect's surface plus its own
/// method, path, action, reading and rendering.
struct DialectRoutes {
    let pipeline: DialectPipeline
    let surface: DialectSurface
    let router: Router<TesseraRequestContext>
    /// Put in front of every path.
    var prefix = ""

    func on(
        _ method: HTTPRequest.Method, _ path: String, _ kind: DialectAction.Kind,
        tenant: (@Sendable (DialectRequest) throws(Problem) -> TenantLocator)? = nil,
        parse: @escaping @Sendable (DialectRequest) async throws -> DialectAction,
        domainError: (@Sendable (DomainError, DialectAction) -> Problem)? = nil,
        render: @escaping @Sendable (DialectOutcome, DialectRequest) throws -> Response
    ) {
        pipeline.register(
            DialectRoute(
                method: method, path: prefix + path, kind: kind, credentials: surface.credentials, precheck: surface.precheck,
                tenant: tenant ?? surface.tenant, refusals: surface.refusals, parse: parse, domainError: domainError ?? surface.domainError,
                resourceID: surface.resourceID, render: render, failure: surface.failure
            ),
            on: router
        )
    }
}
