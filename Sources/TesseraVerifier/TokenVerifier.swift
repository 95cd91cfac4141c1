import AsyncHTTPClient
import Foundation
import TesseraJOSE

/// Verifies Tessera access tokens (RFC 9068) offline, against the issuer's JWKS.
///
/// ```swift
/// let verifier = TokenVerifier(issuer: "https://auth.example.com", audience: "https://orders.example.com")
/// let token = try await verifier.verify(bearerToken)
/// try token.require(scopes: "orders:read")
/// print(token.subject, token.tenant)
/// ```
///
/// It discovers the JWKS through the issuer's RFC 8414 metadata, caches it for
/// the `max-age` the issuer sends, and checks, in order: structure, `typ`
/// (`at+jwt`), the key by `kid` (one rate-limited refresh when unknown), the
/// algorithm bound to that key (`none` and HMAC never pass), the signature,
/// `iss`, `aud`, `exp`, `nbf` and `iat` with a small leeway (RFC 9068 §4).
///
/// A sender-constrained token (`cnf`, docs/binding.md) passes only through
/// ``verify(_:presentation:sensitive:)``, with the DPoP proof or client certificate
/// it came with; ``verify(_:sensitive:)`` is for bearer tokens and refuses it.
public final class TokenVerifier: Sendable {
    /// Tuning knobs; the defaults suit most services.
    public struct Configuration: Sendable {
        /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
        public var leeway: TimeInterval = 30
        /// Least time between two JWKS fetches caused by unknown `kid`s, in seconds.
        public var minimumRefreshInterval: TimeInterval = 10
        /// Cache time when the JWKS response has no `max-age`, in seconds.
        public var defaultMaxAge: TimeInterval = 300
        /// Upper bound on any `max-age`, in seconds.
        public var maximumMaxAge: TimeInterval = 86_400
        /// Timeout of one metadata or JWKS request, in seconds.
        public var fetchTimeout: TimeInterval = 5
        /// How long the last good key set keeps serving while the issuer cannot be
        /// reached, in seconds past its own expiry.
        public var maximumStaleness: TimeInterval = 3_600
        /// Tokens whose verification is remembered, so a token presented again costs
        /// a lookup instead of a signature check; 0 turns the cache off.
        public var verifiedCacheCapacity: Int = 10_000
        /// How long a verified token is remembered at most, in seconds; never past its
        /// `exp`, and the time claims are checked again on every hit.
        public var verifiedCacheLifetime: TimeInterval = 300
        /// Whether the issuer's API tokens (opaque `tsa_…` tokens an administrator
        /// made for a client that cannot run an OAuth flow) are accepted. They carry
        /// no audience, so a service opts in; they are checked by introspection only,
        /// in `.online` and `.hybrid` mode, on every call (answers cached as
        /// ``IntrospectionClient`` caches them).
        public var acceptsAPITokens: Bool = false
        /// How old a DPoP proof's `iat` may be, in seconds (docs/binding.md: 300).
        public var dpopProofMaximumAge: Int64 = 300
        /// How far ahead of this clock a DPoP proof's `iat` may be, in seconds (60).
        public var dpopProofMaximumSkew: Int64 = 60
        /// DPoP proofs remembered at once to refuse replays (``DPoPReplayCache``):
        /// about 100 bytes each. A proof is kept for at most the maximum age plus the
        /// skew (360 s), so the default takes about 275 proofs a second; beyond that,
        /// proofs are refused (``TokenVerificationError/Code-swift.struct/replayCacheFull``)
        /// rather than forgotten.
        public var dpopReplayCacheCapacity: Int = 100_000

        public init() {}
    }

    /// How tokens are checked.
    public enum Mode: Sendable {
        /// Against the JWKS only (the default): no call per token; a revoked token
        /// is accepted until it expires.
        case offline
        /// Offline, plus introspection for tokens older than `maximumAge` seconds and
        /// for every ``TokenVerifier/verify(_:sensitive:)`` call marked sensitive,
        /// so a revoked token is refused where that matters.
        /// `failOpen` accepts the offline result while introspection is unavailable.
        case hybrid(IntrospectionClient, maximumAge: TimeInterval, failOpen: Bool = false)
        /// Every token through introspection; nothing is accepted while it is unavailable.
        case online(IntrospectionClient)
    }

    public let issuer: String
    public let audience: String
    private let configuration: Configuration
    private let now: @Sendable () -> Date
    private enum Keys: Sendable {
        case fixed(KeySet)
        case discovered(JWKSSource)
    }
    private let keys: Keys
    public let mode: Mode
    private let verified: VerifiedTokenCache<VerifiedToken>
    /// The DPoP proofs this verifier accepted, so none passes twice.
    public let replayCache: DPoPReplayCache

    /// A verifier that discovers the issuer's keys over HTTP.
    ///
    /// - Parameters:
    ///   - issuer: the issuer URL exactly as tokens carry it in `iss` (trailing slashes ignored).
    ///   - audience: the value this service expects in `aud`.
    public init(
        issuer: String, audience: String, httpClient: HTTPClient = .shared, mode: Mode = .offline,
        configuration: Configuration = Configuration(), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        let issuer = Self.normalizeIssuer(issuer)
        self.issuer = issuer
        self.audience = audience
        self.configuration = configuration
        self.now = now
        self.mode = mode
        keys = .discovered(JWKSSource(issuer: issuer, httpClient: httpClient, configuration: configuration, now: now))
        verified = VerifiedTokenCache(capacity: configuration.verifiedCacheCapacity, lifetime: configuration.verifiedCacheLifetime)
        replayCache = DPoPReplayCache(capacity: configuration.dpopReplayCacheCapacity)
    }

    /// A verifier with a fixed key set and no network access.
    public init(
        issuer: String, audience: String, keys: JWKSet, mode: Mode = .offline,
        configuration: Configuration = Configuration(), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.mode = mode
        self.issuer = Self.normalizeIssuer(issuer)
        self.audience = audience
        self.configuration = configuration
        self.now = now
        self.keys = .fixed(KeySet(jwks: keys))
        verified = VerifiedTokenCache(capacity: configuration.verifiedCacheCapacity, lifetime: configuration.verifiedCacheLifetime)
        replayCache = DPoPReplayCache(capacity: configuration.dpopReplayCacheCapacity)
    }

    /// Verifies a bearer `token` and returns its claims, or throws ``TokenVerificationError``.
    ///
    /// A sender-constrained token (one with `cnf`) is refused: without its proof it
    /// must not pass (``verify(_:presentation:sensitive:)`` checks it).
    ///
    /// - Parameter sensitive: in hybrid mode, also ask the issuer whether the token
    ///   is still active (revoked tokens are refused).
    public func verify(_ token: String, sensitive: Bool = false) async throws -> VerifiedToken {
        try await verify(token, presentation: .bearer(), sensitive: sensitive)
    }

    /// Verifies `token` together with how it was presented (docs/binding.md,
    /// "Resource servers: the verifier libraries"):
    ///
    /// - with the DPoP scheme, exactly one proof, which verifies with its `jwk`
    ///   (``DPoPProof``), names the request's method and URL, is at most
    ///   ``Configuration/dpopProofMaximumAge`` old and ``Configuration/dpopProofMaximumSkew``
    ///   ahead, carries the token's hash in `ath`, is signed by the key `cnf.jkt`
    ///   names, and was not seen before by this verifier (``replayCache``);
    /// - a token with `cnf.jkt` only with the DPoP scheme, one without only as `Bearer`;
    /// - a token with `cnf.x5t#S256` only with a client certificate of that SHA-256.
    ///
    /// In `.online` and `.hybrid` mode the issuer's introspection answer carries
    /// `cnf` too: online, the binding is checked against it; hybrid, it must be the
    /// token's own.
    ///
    /// Proof failures throw ``TokenVerificationError/Code-swift.struct/invalidProof``
    /// or ``TokenVerificationError/Code-swift.struct/replayedProof``; binding failures
    /// ``TokenVerificationError/Code-swift.struct/wrongScheme`` or
    /// ``TokenVerificationError/Code-swift.struct/bindingMismatch``. The proof's `jti`
    /// is remembered only once everything else has passed.
    public func verify(_ token: String, presentation: TokenPresentation, sensitive: Bool = false) async throws -> VerifiedToken {
        // The proof first: it costs no network call, so a request with a bad one
        // never reaches the JWKS or introspection.
        let proof = presentation.scheme == .dpop ? try checkProof(token, presentation) : nil
        let verified = try await verifyToken(token, sensitive: sensitive)
        try checkBinding(verified.claims.cnf, presentation, proof)
        if let proof { try remember(proof) }
        return verified
    }

    /// The presentation's one DPoP proof, verified and checked against the request.
    private func checkProof(_ token: String, _ presentation: TokenPresentation) throws -> DPoPProof {
        guard presentation.dpopProofs.count == 1, let text = presentation.dpopProofs.first else {
            throw TokenVerificationError(
                .invalidProof, presentation.dpopProofs.isEmpty ? "the DPoP scheme needs a DPoP proof header" : "the request carries more than one DPoP proof")
        }
        do {
            let proof = try DPoPProof(text)
            try proof.check(
                method: presentation.method, url: presentation.url, now: TimeClaims.seconds(now()),
                maximumAge: configuration.dpopProofMaximumAge, maximumSkew: configuration.dpopProofMaximumSkew, accessToken: token)
            return proof
        } catch {
            throw TokenVerificationError(.invalidProof, "\(error)")
        }
    }

    /// The binding `cnf` asks for, against what was presented.
    private func checkBinding(_ cnf: Confirmation?, _ presentation: TokenPresentation, _ proof: DPoPProof?) throws {
        switch (cnf?.jkt, proof) {
        case (nil, nil):
            break
        case (let jkt?, let proof?):
            // Both public: the thumbprint of the key in the proof, and the token's claim.
            guard jkt == proof.thumbprint else {
                throw TokenVerificationError(.bindingMismatch, "the DPoP proof is signed by another key than the token's cnf.jkt")
            }
        case (_?, nil):
            throw TokenVerificationError(.wrongScheme, "the token is DPoP-bound (cnf.jkt) and was presented as Bearer")
        case (nil, _?):
            throw TokenVerificationError(.wrongScheme, "the token is not DPoP-bound and was presented with the DPoP scheme")
        }
        if let x5t = cnf?.x5tS256 {
            guard let certificate = presentation.clientCertificate else {
                throw TokenVerificationError(.bindingMismatch, "the token is certificate-bound (cnf.x5t#S256) and no client certificate came with it")
            }
            guard Confirmation.certificateThumbprint(der: certificate) == x5t else {
                throw TokenVerificationError(.bindingMismatch, "the client certificate is not the one the token is bound to (cnf.x5t#S256)")
            }
        }
    }

    /// Remembers an accepted proof's `jti` until it is too old to pass anyway.
    private func remember(_ proof: DPoPProof) throws {
        switch replayCache.remember(
            thumbprint: proof.thumbprint, jti: proof.jti, until: proof.iat + configuration.dpopProofMaximumAge, now: TimeClaims.seconds(now()))
        {
        case .new: return
        case .replayed: throw TokenVerificationError(.replayedProof, "the DPoP proof's jti was seen before")
        case .full: throw TokenVerificationError(.replayCacheFull, "the DPoP replay cache holds \(replayCache.capacity) proofs inside their window")
        }
    }

    /// The token's signature and claims, as the mode says, without its binding.
    private func verifyToken(_ token: String, sensitive: Bool) async throws -> VerifiedToken {
        if Self.isAPIToken(token) { return try await verifyAPIToken(token) }
        switch mode {
        case .offline:
            return try await verifyOffline(token)
        case .online(let client):
            guard case .active(let claims) = try await ask(client, token) else {
                throw TokenVerificationError(.revoked, "the issuer says the token is not active")
            }
            try check(claims)
            return VerifiedToken(claims: claims)
        case .hybrid(let client, let maximumAge, let failOpen):
            let verified = try await verifyOffline(token)
            let age = now().timeIntervalSince1970 - TimeInterval(verified.claims.iat)
            guard sensitive || age > maximumAge else { return verified }
            do {
                guard case .active(let claims) = try await ask(client, token) else {
                    throw TokenVerificationError(.revoked, "the issuer says the token is not active")
                }
                // Introspection answers the token's cnf (docs/binding.md, "Introspection"):
                // a binding it does not confirm is not trusted.
                guard claims.cnf == verified.claims.cnf else {
                    throw TokenVerificationError(.bindingMismatch, "the issuer's introspection answer has another cnf than the token")
                }
            } catch let error as TokenVerificationError where error.code == .introspectionUnavailable && failOpen {
                return verified
            }
            return verified
        }
    }

    /// An API token is told from a JWT by its shape: the `tsa_` prefix and no dot
    /// (a JWS compact serialization always has two).
    static func isAPIToken(_ token: String) -> Bool {
        token.utf8.starts(with: "tsa_".utf8) && !token.utf8.contains(UInt8(ascii: "."))
    }

    private func verifyAPIToken(_ token: String) async throws -> VerifiedToken {
        guard configuration.acceptsAPITokens else {
            throw TokenVerificationError(.wrongType, "API tokens are not accepted here (Configuration.acceptsAPITokens)")
        }
        let client: IntrospectionClient
        switch mode {
        case .offline: throw TokenVerificationError(.wrongType, "an API token can only be checked by introspection (.online or .hybrid mode)")
        case .online(let online): client = online
        case .hybrid(let hybrid, _, _): client = hybrid
        }
        guard case .active(let claims) = try await ask(client, token) else {
            throw TokenVerificationError(.revoked, "the issuer says the API token is not active")
        }
        // No audience: an API token names none. Issuer and time claims as for JWTs.
        try check(claims, audience: false)
        return VerifiedToken(claims: claims, kind: .apiToken)
    }

    private func ask(_ client: IntrospectionClient, _ token: String) async throws -> IntrospectionClient.Answer {
        do {
            return try await client.introspect(token)
        } catch {
            throw TokenVerificationError(.introspectionUnavailable, "\(error)")
        }
    }

    private func verifyOffline(_ token: String) async throws -> VerifiedToken {
        if let remembered = verified[token, now()] {
            try check(remembered.claims)
            return remembered
        }
        let result = try await verifySignature(token)
        verified.insert(result, for: token, expiresAt: result.claims.exp, now: now())
        return result
    }

    private func verifySignature(_ token: String) async throws -> VerifiedToken {
        let jws: CompactJWS
        do {
            jws = try CompactJWS(token)
        } catch let error as JOSEError {
            throw TokenVerificationError(.malformed, error.reason)
        }
        guard AccessTokenClaims.isAccessTokenType(jws.header.typ) else {
            throw TokenVerificationError(.wrongType, "typ is \(jws.header.typ.map { "\"\($0)\"" } ?? "missing"), expected \"at+jwt\"")
        }
        guard JWSAlgorithm(rawValue: jws.header.alg) != nil else {
            throw TokenVerificationError(.algorithmNotAllowed, "algorithm \"\(jws.header.alg)\" is not accepted")
        }
        guard let kid = jws.header.kid else { throw TokenVerificationError(.unknownKey, "the token header has no kid") }
        let key: VerificationKey
        switch keys {
        case .fixed(let set):
            guard let found = set[kid] else { throw TokenVerificationError(.unknownKey, "no key has kid \"\(kid)\"") }
            key = found
        case .discovered(let source):
            key = try await source.key(for: kid)
        }
        do {
            try jws.verify(with: key)
        } catch let error as JOSEError where error.isAlgorithmMismatch {
            throw TokenVerificationError(.algorithmNotAllowed, error.reason)
        } catch {
            throw TokenVerificationError(.invalidSignature, "the signature does not verify")
        }
        let claims: AccessTokenClaims
        do {
            claims = try AccessTokenClaims(json: jws.payload)
        } catch {
            throw TokenVerificationError(.malformed, "the claims lack iss, sub, aud, exp, iat, jti or client_id")
        }
        try check(claims)
        return VerifiedToken(claims: claims)
    }

    private func check(_ claims: AccessTokenClaims, audience checksAudience: Bool = true) throws {
        guard claims.iss == issuer else {
            throw TokenVerificationError(.wrongIssuer, "iss is \"\(claims.iss)\", expected \"\(issuer)\"")
        }
        guard !checksAudience || claims.aud.contains(audience) else {
            throw TokenVerificationError(.wrongAudience, "aud does not contain \"\(audience)\"")
        }
        // The time policy the issuer applies too (TimeClaims); the leeway in whole seconds.
        let leeway = Int64(min(max(configuration.leeway.rounded(.up), 0), 3600))
        switch claims.times.violation(now: TimeClaims.seconds(now()), leeway: leeway) {
        case nil: return
        case .expired: throw TokenVerificationError(.expired, "the token expired at \(claims.exp)")
        case .notYetValid: throw TokenVerificationError(.notYetValid, "the token is not valid before \(claims.nbf)")
        case .issuedInFuture: throw TokenVerificationError(.issuedInFuture, "the token was issued in the future (\(claims.iat))")
        case let violation?: throw TokenVerificationError(.malformed, violation.description)
        }
    }

    /// `issuer` without trailing slashes, the form Tessera puts in `iss`.
    public static func normalizeIssuer(_ issuer: String) -> String {
        var value = issuer
        while value.hasSuffix("/") { value.removeLast() }
        return value
    }
}
