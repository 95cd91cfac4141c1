/// Why a token was not accepted. Compare with the static members' ``code``, or
/// read ``reason`` for a message fit for logs (it never contains the token).
public struct TokenVerificationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// Not a compact JWS, bad base64url, not JSON, or missing claims.
        public static let malformed = Code("malformed")
        /// The header's algorithm is not the key's, or not accepted at all (`none`, HMAC).
        public static let algorithmNotAllowed = Code("algorithm_not_allowed")
        /// No published key has the token's `kid`, even after a refresh.
        public static let unknownKey = Code("unknown_key")
        public static let invalidSignature = Code("invalid_signature")
        /// `typ` is not `at+jwt` (RFC 9068 §4).
        public static let wrongType = Code("wrong_type")
        public static let wrongIssuer = Code("wrong_issuer")
        public static let wrongAudience = Code("wrong_audience")
        public static let expired = Code("expired")
        public static let notYetValid = Code("not_yet_valid")
        /// `iat` lies in the future beyond the leeway.
        public static let issuedInFuture = Code("issued_in_future")
        /// The token is valid but lacks a scope the caller requires.
        public static let insufficientScope = Code("insufficient_scope")
        /// The issuer says the token is no longer active (revoked, or its account disabled).
        public static let revoked = Code("revoked")
        /// Introspection was needed and could not be done (timeout, error, open circuit).
        public static let introspectionUnavailable = Code("introspection_unavailable")
        /// The issuer's metadata or JWKS could not be fetched or read.
        public static let keysUnavailable = Code("keys_unavailable")

        // Sender-constrained tokens (docs/binding.md, RFC 9449, RFC 8705). The proof's
        // codes answer `invalid_dpop_proof`, the binding's `invalid_token`.

        /// The DPoP proof is missing, not the only one, malformed, does not verify
        /// with its `jwk`, or does not fit the request (`htm`, `htu`, `iat`, `ath`):
        /// RFC 9449 §4.3.
        public static let invalidProof = Code("invalid_dpop_proof")
        /// The DPoP proof is valid but its `jti` was seen before by this verifier
        /// within the proof window (RFC 9449 §11.1).
        public static let replayedProof = Code("replayed_dpop_proof")
        /// The token was presented with a scheme its binding does not allow: a
        /// DPoP-bound token (`cnf.jkt`) as `Bearer`, or a token without `cnf.jkt` as
        /// `DPoP` (RFC 9449 §7.1 and §7.2).
        public static let wrongScheme = Code("wrong_scheme")
        /// The token is bound to another key or certificate than the one presented:
        /// the proof's `jwk` thumbprint is not `cnf.jkt`, or the client certificate is
        /// missing or its SHA-256 is not `cnf.x5t#S256` (RFC 8705 §3).
        public static let bindingMismatch = Code("binding_mismatch")
        /// The DPoP replay cache is full of proofs still inside their window: the proof
        /// is refused rather than let through unremembered (a temporary condition,
        /// not the caller's fault; ``TokenVerifier/Configuration/dpopReplayCacheCapacity``).
        public static let replayCacheFull = Code("replay_cache_full")

        public var description: String { name }
    }

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}
