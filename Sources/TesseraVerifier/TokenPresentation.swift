import TesseraJOSE

/// How a token arrived with its request: what ``TokenVerifier/verify(_:presentation:sensitive:)``
/// needs to check a sender-constrained token's binding (docs/binding.md, "Resource
/// servers: the verifier libraries").
///
/// ```swift
/// // Authorization: DPoP <token>, with one DPoP header
/// let token = try await verifier.verify(
///     accessToken,
///     presentation: .dpop(proofs: dpopHeaderValues, method: "GET", url: "https://orders.example.com/orders"))
/// // Authorization: Bearer <token> over mutual TLS
/// let token = try await verifier.verify(accessToken, presentation: .bearer(clientCertificate: der))
/// ```
public struct TokenPresentation: Sendable, Hashable {
    /// The algorithms a DPoP proof may use (RFC 9449 §7.1 `algs`): `ES256 EdDSA RS256 PS256`.
    public static let dpopAlgorithms: [String] = DPoPProof.algorithms.map(\.rawValue)

    /// The `Authorization` scheme the token came with.
    public enum Scheme: String, Sendable, Hashable {
        /// `Authorization: Bearer` (RFC 6750).
        case bearer = "Bearer"
        /// `Authorization: DPoP`, with a `DPoP` proof header (RFC 9449 §7.1).
        case dpop = "DPoP"
    }

    public var scheme: Scheme
    /// Every `DPoP` header value of the request, in order: exactly one is accepted
    /// with the DPoP scheme (RFC 9449 §4.3 step 1).
    public var dpopProofs: [String]
    /// The request's method, as `htm` must name it (`GET`, `POST`, …).
    public var method: String
    /// The request's URL as the client addressed it (query and fragment are
    /// ignored), as `htu` must name it.
    public var url: String
    /// The DER of the client certificate of the connection (mutual TLS, RFC 8705),
    /// when the service has one: needed for a token with `cnf.x5t#S256`.
    public var clientCertificate: [UInt8]?

    public init(scheme: Scheme, dpopProofs: [String] = [], method: String = "", url: String = "", clientCertificate: [UInt8]? = nil) {
        self.scheme = scheme
        self.dpopProofs = dpopProofs
        self.method = method
        self.url = url
        self.clientCertificate = clientCertificate
    }

    /// `Authorization: Bearer <token>`, with the connection's client certificate if any.
    public static func bearer(clientCertificate: [UInt8]? = nil) -> TokenPresentation {
        TokenPresentation(scheme: .bearer, clientCertificate: clientCertificate)
    }

    /// `Authorization: DPoP <token>` with the request's `DPoP` header values.
    public static func dpop(proofs: [String], method: String, url: String, clientCertificate: [UInt8]? = nil) -> TokenPresentation {
        TokenPresentation(scheme: .dpop, dpopProofs: proofs, method: method, url: url, clientCertificate: clientCertificate)
    }

    /// `Authorization: DPoP <token>` with one `DPoP` header.
    public static func dpop(proof: String, method: String, url: String, clientCertificate: [UInt8]? = nil) -> TokenPresentation {
        dpop(proofs: [proof], method: method, url: url, clientCertificate: clientCertificate)
    }
}
