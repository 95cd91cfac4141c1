import Foundation
import Hummingbird
import Metrics
import TesseraCore
import TesseraJOSE

/// Failed client authentications at the OAuth endpoints.
let authenticationFailures = Counter(label: "tessera_client_auth_failures_total")
/// Attempts refused unchecked because their address or client was locked.
let authenticationThrottled = Counter(label: "tessera_client_auth_throttled_total")

/// The client credentials a request presents, by `client_secret_basic` (RFC 6749
/// §2.3.1, with the Appendix B form-url-decoding of id and secret) or
/// `client_secret_post`. Presenting both is refused (§2.3: one method per request).
struct ClientCredentials {
    enum Method: String {
        case basic = "client_secret_basic"
        case post = "client_secret_post"
    }

    let clientID: String
    let secret: String
    let method: Method

    /// Authenticates the client a request presents; no credentials at all is `invalid_client` too.
    /// With `federation`, a client assertion another issuer signed is checked against
    /// the client's federated credentials (docs/federation.md).
    static func authenticate(
        _ request: Request, form: FormBody, peer: String, with tokens: TokenService, federation: FederationService? = nil,
        requestID: String? = nil
    ) async throws -> TokenService.AuthenticatedClient {
        do {
            if let assertion = try assertion(from: request.headers, form: form) {
                if let federation, ClientAssertion.isFederated(assertion) {
                    guard let clientID = form["client_id"] else {
                        throw OAuthError.invalidClient("client_id is required with another issuer's token as client assertion")
                    }
                    return try await tokens.authenticate(
                        federatedAssertion: assertion, clientID: clientID, from: peer, with: federation, requestID: requestID)
                }
                return try await tokens.authenticate(assertion: assertion, clientID: form["client_id"], from: peer)
            }
            guard let credentials = try extract(from: request.headers, form: form) else {
                throw OAuthError.invalidClient("client authentication is required")
            }
            return try await tokens.authenticate(clientID: credentials.clientID, secret: credentials.secret, from: peer)
        } catch let error as OAuthError where error.code == "invalid_client" {
            authenticationFailures.increment()
            throw error
        } catch let throttled as TokenService.Throttled {
            authenticationThrottled.increment()
            throw throttled
        }
    }

    /// Whether the request names a client and presents nothing else: no
    /// `Authorization`, secret or assertion. A client certificate, then, is the
    /// credential (RFC 8705 §2).
    static func presentsOnlyAClientID(_ headers: HTTPFields, form: FormBody) -> Bool {
        headers[.authorization] == nil && form["client_secret"] == nil && form["client_assertion"] == nil && form["client_assertion_type"] == nil
    }

    /// The `private_key_jwt` assertion (RFC 7523 §2.2), when the request uses that method.
    static func assertion(from headers: HTTPFields, form: FormBody) throws(OAuthError) -> String? {
        let type = form["client_assertion_type"], assertion = form["client_assertion"]
        guard type != nil || assertion != nil else { return nil }
        guard type == TokenService.assertionType else {
            throw .invalidRequest("client_assertion_type must be \(TokenService.assertionType)")
        }
        guard let assertion else { throw .invalidRequest("client_assertion is missing") }
        guard headers.value(of: .authorization) == nil, form["client_secret"] == nil else {
            throw .invalidRequest("use one client authentication method, not a client assertion and a secret together")
        }
        return assertion
    }

    /// Extracts credentials; `nil` when the request presents none.
    static func extract(from headers: HTTPFields, form: FormBody) throws(OAuthError) -> ClientCredentials? {
        let postID = form["client_id"], postSecret = form["client_secret"]
        guard let authorization = headers.value(of: .authorization) else {
            guard let postID else {
                if postSecret != nil { throw .invalidRequest("client_secret was sent without client_id") }
                return nil
            }
            guard let postSecret else { throw OAuthError.invalidClient() }
            return ClientCredentials(clientID: postID, secret: postSecret, method: .post)
        }
        // Read as bytes: this runs on every token request.
        let basic: BasicCredentials?
        do {
            basic = try BasicCredentials.parse(authorization: Array(authorization.utf8))
        } catch .notBasicScheme {
            throw .invalidClient("the Authorization header must use the Basic scheme")
        } catch {
            basic = nil
        }
        if postSecret != nil { throw .invalidRequest("use one client authentication method, not Basic and client_secret together") }
        guard let basic else { throw .invalidClient("the Basic credentials are malformed") }
        let id = basic.clientID
        if let postID, postID != id { throw .invalidRequest("client_id does not match the Basic credentials") }
        return ClientCredentials(clientID: id, secret: basic.secret, method: .basic)
    }
}
