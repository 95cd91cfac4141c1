import Foundation

/// The claims of a JWT access token as RFC 9068 §2.2 defines them, plus Tessera's
/// `tenant` and `roles`.
///
/// `aud` may be a single string or an array on the wire (RFC 7519 §4.1.3); it is
/// always an array here and is written as a string when it has one member.
public struct AccessTokenClaims: Codable, Sendable, Hashable {
    public var iss: String
    /// The service account id.
    public var sub: String
    public var aud: [String]
    public var exp: Int64
    public var iat: Int64
    public var nbf: Int64
    public var jti: String
    public var clientID: String
    /// Space-delimited scopes (RFC 6749 §3.3); empty when none were granted.
    public var scope: String
    /// The tenant id.
    public var tenant: String
    public var roles: [String]
    /// The delegation chain of a token obtained by token exchange with an actor token
    /// (RFC 8693 §4.1): the current actor first, then the actors before it, nested
    /// in the `act` claim in that order; empty, the token carries no `act`.
    public var act: [Actor]
    /// What the presenter must prove it holds (RFC 7800, RFC 9449 §6.1, RFC 8705
    /// §3.1); `nil` for a bearer token.
    public var cnf: Confirmation?

    /// One party in an `act` claim.
    public struct Actor: Sendable, Hashable {
        public var sub: String
        public var clientID: String?

        public init(sub: String, clientID: String? = nil) {
            self.sub = sub
            self.clientID = clientID
        }
    }

    public init(
        iss: String, sub: String, aud: [String], exp: Int64, iat: Int64, nbf: Int64, jti: String,
        clientID: String, scope: String, tenant: String, roles: [String], act: [Actor] = [], cnf: Confirmation? = nil
    ) {
        self.cnf = cnf
        self.act = act
        self.iss = iss
        self.sub = sub
        self.aud = aud
        self.exp = exp
        self.iat = iat
        self.nbf = nbf
        self.jti = jti
        self.clientID = clientID
        self.scope = scope
        self.tenant = tenant
        self.roles = roles
    }

    /// The granted scopes as a set.
    public var scopes: Set<String> {
        Set(scope.split(separator: " ", omittingEmptySubsequences: true).map(String.init))
    }

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nbf, jti, scope, tenant, roles, act, cnf
        case clientID = "client_id"
    }

    /// How deep an `act` chain may nest.
    public static let maximumActorDepth = 8

    /// The `act` chain of a parsed claim: an object with a string `sub`, an optional
    /// string `client_id`, and an optional nested `act`.
    static func actors(_ value: JSONValue?) throws -> [Actor] {
        var chain: [Actor] = []
        var next = value
        while let current = next, current != .null {
            guard let members = current.object, let sub = members["sub"]?.string, chain.count < maximumActorDepth else {
                throw JOSEError.malformed("act is not an actor claim")
            }
            chain.append(Actor(sub: sub, clientID: try members.optional("client_id", \.string)))
            next = members["act"]
        }
        return chain
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        iss = try container.decode(String.self, forKey: .iss)
        sub = try container.decode(String.self, forKey: .sub)
        aud = try container.decodeAudience(forKey: .aud)
        exp = try container.decode(Int64.self, forKey: .exp)
        iat = try container.decode(Int64.self, forKey: .iat)
        nbf = try container.decodeIfPresent(Int64.self, forKey: .nbf) ?? iat
        for (value, key) in [(exp, CodingKeys.exp), (iat, .iat), (nbf, .nbf)] where !TimeClaims.isNumericDate(value) {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not a NumericDate from 1970 to 9999")
        }
        jti = try container.decode(String.self, forKey: .jti)
        clientID = try container.decode(String.self, forKey: .clientID)
        scope = try container.decodeIfPresent(String.self, forKey: .scope) ?? ""
        tenant = try container.decodeIfPresent(String.self, forKey: .tenant) ?? ""
        roles = try container.decodeIfPresent([String].self, forKey: .roles) ?? []
        cnf = try container.decodeIfPresent(Confirmation.self, forKey: .cnf)
        act = []
        var level = container
        while level.contains(.act), try !level.decodeNil(forKey: .act) {
            // As ``actors(_:)`` reads it: a deeper chain is refused, not cut short.
            guard act.count < Self.maximumActorDepth else {
                throw DecodingError.dataCorruptedError(forKey: .act, in: level, debugDescription: "act nests more than \(Self.maximumActorDepth) actors")
            }
            let nested = try level.nestedContainer(keyedBy: CodingKeys.self, forKey: .act)
            act.append(Actor(sub: try nested.decode(String.self, forKey: .sub), clientID: try nested.decodeIfPresent(String.self, forKey: .clientID)))
            level = nested
        }
    }

    /// Reads the claims from a JWT payload, as ``init(from:)`` does (`aud` a
    /// string or an array of strings; `nbf` defaults to `iat`; `scope`, `tenant`
    /// and `roles` to empty; `null` counts as absent), without `JSONDecoder`. `exp`,
    /// `iat` and `nbf` must be NumericDates in ``TimeClaims/range``.
    public init(json bytes: [UInt8]) throws {
        guard let members = try JSONValue.parse(bytes).object else { throw JOSEError.malformed("the claims are not a JSON object") }
        func required<T>(_ name: String, _ read: (JSONValue) -> T?) throws -> T {
            guard let value = try members.optional(name, read) else { throw JOSEError.malformed("\(name) is missing") }
            return value
        }
        iss = try required("iss", \.string)
        sub = try required("sub", \.string)
        aud = try required("aud") { $0.string.map { [$0] } ?? $0.strings }
        exp = try required("exp", \.numericDate)
        iat = try required("iat", \.numericDate)
        nbf = try members.optional("nbf", \.numericDate) ?? iat
        jti = try required("jti", \.string)
        clientID = try required("client_id", \.string)
        scope = try members.optional("scope", \.string) ?? ""
        tenant = try members.optional("tenant", \.string) ?? ""
        roles = try members.optional("roles", \.strings) ?? []
        act = try Self.actors(members["act"])
        cnf = try members["cnf"].flatMap { $0 == .null ? nil : try Confirmation(json: $0) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(iss, forKey: .iss)
        try container.encode(sub, forKey: .sub)
        if aud.count == 1 {
            try container.encode(aud[0], forKey: .aud)
        } else {
            try container.encode(aud, forKey: .aud)
        }
        try container.encode(exp, forKey: .exp)
        try container.encode(iat, forKey: .iat)
        try container.encode(nbf, forKey: .nbf)
        try container.encode(jti, forKey: .jti)
        try container.encode(clientID, forKey: .clientID)
        try container.encode(scope, forKey: .scope)
        try container.encode(tenant, forKey: .tenant)
        try container.encode(roles, forKey: .roles)
        try container.encodeIfPresent(cnf, forKey: .cnf)
        var level = container
        for actor in act {
            var nested = level.nestedContainer(keyedBy: CodingKeys.self, forKey: .act)
            try nested.encode(actor.sub, forKey: .sub)
            try nested.encodeIfPresent(actor.clientID, forKey: .clientID)
            level = nested
        }
    }

    /// Whether a JWS header's `typ` marks an access token: `at+jwt`, or its full
    /// media type `application/at+jwt` (RFC 9068 §2.1, RFC 7515 §4.1.9), in any case.
    public static func isAccessTokenType(_ typ: String?) -> Bool {
        guard let typ = typ?.lowercased() else { return false }
        return typ == "at+jwt" || typ == "application/at+jwt"
    }

    /// The time claims, for ``TimeClaims/violation(now:leeway:maximumLifetime:)``.
    public var times: TimeClaims { TimeClaims(exp: exp, nbf: nbf, iat: iat) }

    /// Signs these claims as an RFC 9068 access token (`typ: at+jwt`).
    public func sign(with key: SigningKey) throws -> String {
        try JWS.sign(payload: json, with: key, type: "at+jwt")
    }

    /// The claims as JSON, the same document `encode(to:)` gives `JSONEncoder`,
    /// written directly because every token pays for it.
    public var json: [UInt8] {
        var output = JSONOutput()
        output.beginObject()
        output.member("iss", iss)
        output.member("sub", sub)
        if aud.count == 1 { output.member("aud", aud[0]) } else { output.member("aud", aud) }
        output.member("exp", exp)
        output.member("iat", iat)
        output.member("nbf", nbf)
        output.member("jti", jti)
        output.member("client_id", clientID)
        output.member("scope", scope)
        output.member("tenant", tenant)
        output.member("roles", roles)
        if let cnf {
            output.beginObject("cnf")
            cnf.write(into: &output)
            output.endObject()
        }
        for actor in act {
            output.beginObject("act")
            output.member("sub", actor.sub)
            if let clientID = actor.clientID { output.member("client_id", clientID) }
        }
        for _ in act { output.endObject() }
        output.endObject()
        return output.bytes
    }
}

extension KeyedDecodingContainer {
    /// The `aud` claim, a single string or an array of strings (RFC 7519 §4.1.3), as an array.
    public func decodeAudience(forKey key: Key) throws -> [String] {
        if let single = try? decode(String.self, forKey: key) { return [single] }
        return try decode([String].self, forKey: key)
    }
}
