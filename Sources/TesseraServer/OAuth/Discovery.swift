import Hummingbird
import TesseraCore
import TesseraJOSE

/// `GET /.well-known/jwks.json` (RFC 7517) and the authorization server metadata
/// (RFC 8414), also served at `/.well-known/openid-configuration`.
struct Discovery: Sendable {
    let tessera: Tessera
    let jwksMaxAge: Int
    /// Whether a client certificate can arrive (docs/binding.md).
    var certificates = false

    func jwks(_ request: Request, context: some RequestContext) -> Response {
        guard let snapshot = tessera.keyRing.snapshot else {
            return Problem(.serviceUnavailable, "no signing key is loaded", headers: [.retryAfter: "1"]).response
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/jwk-set+json", .cacheControl: "public, max-age=\(jwksMaxAge)"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: snapshot.publishedJSON))
        )
    }

    struct Metadata: Encodable {
        let issuer: String
        let tokenEndpoint: String
        let jwksURI: String
        let introspectionEndpoint: String
        let revocationEndpoint: String
        let introspectionEndpointAuthMethodsSupported = ["client_secret_basic", "client_secret_post"]
        let revocationEndpointAuthMethodsSupported = ["client_secret_basic", "client_secret_post"]
        let grantTypesSupported = ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]
        /// The token types token exchange accepts and issues (RFC 8693 §3; docs/federation.md).
        let tokenExchangeSubjectTokenTypesSupported = TokenEndpoint.subjectTokenTypes.sorted()
        let tokenExchangeActorTokenTypesSupported = [TokenEndpoint.accessTokenType, "urn:ietf:params:oauth:token-type:jwt"]
        let tokenExchangeIssuedTokenTypesSupported = [TokenEndpoint.accessTokenType]
        let tokenEndpointAuthMethodsSupported: [String]
        let tokenEndpointAuthSigningAlgValuesSupported = JWSAlgorithm.allCases.map(\.rawValue)
        let responseTypesSupported: [String] = []
        let scopesSupported: [String]
        let accessTokenSigningAlgValuesSupported: [String]
        /// RFC 9449 §5.1.
        let dpopSigningAlgValuesSupported = DPoPProof.algorithms.map(\.rawValue)
        /// RFC 8705 §3.3 and §5, when client certificates can arrive.
        let tlsClientCertificateBoundAccessTokens: Bool?
        let mtlsEndpointAliases: [String: String]?

        enum CodingKeys: String, CodingKey {
            case issuer
            case tokenEndpoint = "token_endpoint"
            case jwksURI = "jwks_uri"
            case introspectionEndpoint = "introspection_endpoint"
            case revocationEndpoint = "revocation_endpoint"
            case introspectionEndpointAuthMethodsSupported = "introspection_endpoint_auth_methods_supported"
            case revocationEndpointAuthMethodsSupported = "revocation_endpoint_auth_methods_supported"
            case grantTypesSupported = "grant_types_supported"
            case tokenExchangeSubjectTokenTypesSupported = "token_exchange_subject_token_types_supported"
            case tokenExchangeActorTokenTypesSupported = "token_exchange_actor_token_types_supported"
            case tokenExchangeIssuedTokenTypesSupported = "token_exchange_issued_token_types_supported"
            case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
            case tokenEndpointAuthSigningAlgValuesSupported = "token_endpoint_auth_signing_alg_values_supported"
            case responseTypesSupported = "response_types_supported"
            case scopesSupported = "scopes_supported"
            case accessTokenSigningAlgValuesSupported = "access_token_signing_alg_values_supported"
            case dpopSigningAlgValuesSupported = "dpop_signing_alg_values_supported"
            case tlsClientCertificateBoundAccessTokens = "tls_client_certificate_bound_access_tokens"
            case mtlsEndpointAliases = "mtls_endpoint_aliases"
        }
    }

    func metadata(_ request: Request, context: some RequestContext) -> Response {
        let issuer = tessera.issuer
        let algorithms = tessera.keyRing.snapshot.map { [$0.active.algorithm.rawValue] } ?? []
        let scopes = Set(Role.defaultCatalogue.flatMap(\.scopes)).sorted()
        return .json(
            Metadata(
                issuer: issuer, tokenEndpoint: issuer + "/oauth2/token", jwksURI: issuer + "/.well-known/jwks.json",
                introspectionEndpoint: issuer + "/oauth2/introspect", revocationEndpoint: issuer + "/oauth2/revoke",
                tokenEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post", "private_key_jwt"]
                    + (certificates ? ["tls_client_auth", "self_signed_tls_client_auth"] : []),
                scopesSupported: scopes, accessTokenSigningAlgValuesSupported: algorithms,
                tlsClientCertificateBoundAccessTokens: certificates ? true : nil,
                // Client certificates are asked for on the one listener, so the aliases are the endpoints themselves.
                mtlsEndpointAliases: certificates
                    ? [
                        "token_endpoint": issuer + "/oauth2/token", "introspection_endpoint": issuer + "/oauth2/introspect",
                        "revocation_endpoint": issuer + "/oauth2/revoke",
                    ] : nil
            ),
            headers: [.cacheControl: "public, max-age=\(jwksMaxAge)"]
        )
    }
}
