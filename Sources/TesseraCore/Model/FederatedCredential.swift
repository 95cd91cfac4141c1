import Foundation
import TesseraJOSE

/// A federated credential: which tokens of an outside issuer (a Kubernetes cluster,
/// GitHub Actions, a SPIFFE trust domain) stand for a service account, so a workload
/// can authenticate with the token its platform gives it and hold no Tessera secret.
/// `docs/federation.md` describes the fields and the rules.
public struct FederatedCredential: Sendable, Hashable {
    public var id: UUID
    public var tenantID: UUID
    public var accountID: UUID
    /// Unique on the account.
    public var name: String
    /// The trusted issuer, exactly as its tokens' `iss` says it.
    public var issuer: String
    /// What the token's `aud` must contain; `nil` means the Tessera issuer URL.
    public var audience: String?
    /// A pattern (``Pattern``) the token's `sub` must match.
    public var subject: String?
    /// Claim name (a dotted path through nested objects) → pattern.
    public var claims: [String: String]
    /// The most a token obtained through this credential may carry; `nil` leaves it to the roles.
    public var scopes: [String]?
    /// Where the issuer's keys are, instead of its discovery document.
    public var jwksURI: String?
    /// The issuer's keys inline (a JWK Set as JSON text); then nothing is fetched.
    public var jwks: String?
    /// Accept tokens without a `jti` whatever their lifetime.
    public var allowWithoutJTI: Bool
    public var createdAt: Date

    public init(
        id: UUID, tenantID: UUID, accountID: UUID, name: String, issuer: String, audience: String? = nil, subject: String? = nil,
        claims: [String: String] = [:], scopes: [String]? = nil, jwksURI: String? = nil, jwks: String? = nil,
        allowWithoutJTI: Bool = false, createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.accountID = accountID
        self.name = name
        self.issuer = issuer
        self.audience = audience
        self.subject = subject
        self.claims = claims
        self.scopes = scopes
        self.jwksURI = jwksURI
        self.jwks = jwks
        self.allowWithoutJTI = allowWithoutJTI
        self.createdAt = createdAt
    }

    /// The conditions in a fixed order: `sub` first, then the claims by name.
    public var conditions: [(claim: String, pattern: String)] {
        (subject.map { [("sub", $0)] } ?? []) + claims.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Whether the credential names a Kubernetes `default` service account exactly,
    /// which is what it takes to accept one (docs/federation.md, safety rules).
    public var namesDefaultServiceAccount: Bool {
        if let subject, !subject.contains("*"), subject.hasPrefix("system:serviceaccount:"), subject.hasSuffix(":default") { return true }
        guard let namespace = claims["kubernetes.io.namespace"], !namespace.contains("*") else { return false }
        return claims["kubernetes.io.serviceaccount.name"] == "default"
    }
}

/// A claim pattern: `*` stands for any run of characters (also none), every other
/// character for itself, and the whole value must match.
public enum Pattern {
    /// Whether `value` matches `pattern`. Greedy with one backtrack point, so the
    /// cost is at most the product of the two lengths (both are bounded where they
    /// come from: patterns at creation, values by the token's size).
    public static func matches(_ value: String, _ pattern: String) -> Bool {
        let text = Array(value.utf8), glob = Array(pattern.utf8)
        var t = 0, g = 0
        var star: Int?, resume = 0
        while t < text.count {
            if g < glob.count, glob[g] == UInt8(ascii: "*") {
                star = g
                resume = t
                g += 1
            } else if g < glob.count, glob[g] == text[t] {
                t += 1
                g += 1
            } else if let star {
                g = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while g < glob.count, glob[g] == UInt8(ascii: "*") { g += 1 }
        return g == glob.count
    }

    /// True when the pattern constrains nothing (empty of anything but `*`).
    public static func isWildcardOnly(_ pattern: String) -> Bool {
        pattern.utf8.allSatisfy { $0 == UInt8(ascii: "*") }
    }
}

extension [String: JSONValue] {
    /// The claim a condition names: a top-level member, or a path of member names
    /// joined by dots through nested objects, where a member's own name may contain
    /// dots (`kubernetes.io.namespace` reads `{"kubernetes.io": {"namespace": …}}`).
    /// A string is answered as it is, an integer or a boolean as its JSON text;
    /// anything else (missing, an array, an object, a fraction) is `nil`. A path that
    /// leads to values through two different members is `nil` too: the answer never
    /// depends on the order a dictionary keeps.
    public func claimText(_ path: String) -> String? {
        if let value = self[path] { return Self.text(value) }
        var found: String?
        for (name, value) in self where path.hasPrefix(name + ".") {
            guard let nested = value.object, let text = nested.claimText(String(path.dropFirst(name.count + 1))) else { continue }
            guard found == nil else { return nil }
            found = text
        }
        return found
    }

    private static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let string): string
        case .bool(let bool): bool ? "true" : "false"
        case .number: value.int64.map(String.init)
        default: nil
        }
    }
}
