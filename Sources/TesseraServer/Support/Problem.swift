import Foundation
import Hummingbird
import TesseraCore

/// An RFC 9457 problem-details error for the native admin API.
struct Problem: Error, Sendable {
    var status: HTTPResponse.Status
    var detail: String
    /// The request member at fault, for validation problems.
    var field: String?
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ detail: String, field: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers
    }

    private struct Body: Encodable {
        let type: String
        let title: String
        let status: Int
        let detail: String
        let field: String?
    }

    var response: Response {
        .json(
            Body(type: "about:blank", title: status.reasonPhrase, status: status.code, detail: detail, field: field),
            status: status, contentType: "application/problem+json", headers: headers
        )
    }

    static func notFound(_ what: String = "not found") -> Problem { Problem(.notFound, what) }

    /// Any error a handler lets through, as the problem it answers: problems as
    /// they are, domain errors by kind, an unreachable store 503 with
    /// `Retry-After`, and anything else a 500 that says nothing more.
    init(_ error: any Error) {
        switch error {
        case let problem as Problem: self = problem
        case let domain as DomainError: self.init(domain)
        case is StoreError: self.init(.serviceUnavailable, "the store is unavailable", headers: [.retryAfter: "1"])
        default: self.init(.internalServerError, "internal error")
        }
    }

    init(_ error: DomainError) {
        switch error.kind {
        case .invalidInput(let field): self.init(.badRequest, error.message, field: field)
        case .notFound: self.init(.notFound, error.message)
        case .conflict, .limitReached: self.init(.conflict, error.message)
        case .forbidden: self.init(.forbidden, error.message)
        case .unavailable: self.init(.serviceUnavailable, error.message, headers: [.retryAfter: "1"])
        }
    }
}
