import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an account's tokens must be bound to, and the certificate name that
/// authenticates it with `tls_client_auth` (docs/binding.md).
public struct TokenBinding: Sendable, Hashable, Codable {
    /// Every token must be DPoP-bound (`dpop_bound_access_tokens`, RFC 9449 §5.2).
    public var dpopRequired: Bool
    /// Every token must be certificate-bound
    /// (`tls_client_certificate_bound_access_tokens`, RFC 8705 §3.4).
    public var certificateRequired: Bool
    /// The name a client certificate must carry for `tls_client_auth` (RFC 8705 §2.1.2).
    public var tlsClientAuth: CertificateName?
    /// A self-signed certificate with one of the account's registered keys
    /// authenticates it (`self_signed_tls_client_auth`, RFC 8705 §2.2); off unless
    /// the administrator turns it on.
    public var selfSigned: Bool

    public init(dpopRequired: Bool = false, certificateRequired: Bool = false, tlsClientAuth: CertificateName? = nil, selfSigned: Bool = false) {
        self.dpopRequired = dpopRequired
        self.certificateRequired = certificateRequired
        self.tlsClientAuth = tlsClientAuth
        self.selfSigned = selfSigned
    }

    /// Nothing required and no certificate name: how every account starts.
    public var isDefault: Bool { self == TokenBinding() }

    enum CodingKeys: String, CodingKey {
        case dpopRequired = "dpop"
        case certificateRequired = "certificate"
        case tlsClientAuth = "tls_client_auth"
        case selfSigned = "self_signed"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dpopRequired = try container.decodeIfPresent(Bool.self, forKey: .dpopRequired) ?? false
        certificateRequired = try container.decodeIfPresent(Bool.self, forKey: .certificateRequired) ?? false
        tlsClientAuth = try container.decodeIfPresent(CertificateName.self, forKey: .tlsClientAuth)
        selfSigned = try container.decodeIfPresent(Bool.self, forKey: .selfSigned) ?? false
    }

    /// One name of a certificate: its subject, or one subject alternative name of a kind.
    public struct CertificateName: Sendable, Hashable, Codable {
        public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
            case subjectDN = "subject_dn"
            case dns = "san_dns"
            case uri = "san_uri"
            case ip = "san_ip"
            case email = "san_email"

            /// The account field that registers it: `tls_client_auth_` + the kind.
            public var field: String { "tls_client_auth_" + rawValue }
        }

        public var kind: Kind
        /// For `subject_dn`, the DN as RFC 4514 writes it; for an IP address, its
        /// canonical text; else the name as registered.
        public var value: String

        public init(kind: Kind, value: String) {
            self.kind = kind
            self.value = value
        }
    }
}

extension TokenBinding {
    /// This binding with its certificate name checked and in canonical form, or
    /// ``DomainError`` naming the field that is wrong.
    public func validated() throws -> TokenBinding {
        guard let name = tlsClientAuth else { return self }
        var copy = self
        copy.tlsClientAuth = try name.validated()
        return copy
    }
}

extension TokenBinding.CertificateName {
    /// Longest name accepted.
    public static let maximumLength = 1024

    /// This name checked for its kind: a DN of `type=value` parts; a DNS name (a
    /// leading `*.` allowed); an absolute URI; an IPv4 or IPv6 address, kept in its
    /// canonical text; an e-mail address with one `@`. No control characters.
    public func validated() throws -> TokenBinding.CertificateName {
        let field = kind.field
        guard !value.isEmpty, value.utf8.count <= Self.maximumLength,
            !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw DomainError.invalid(field, "\(field) must be 1–\(Self.maximumLength) characters without control characters")
        }
        switch kind {
        case .subjectDN:
            let parts = PresentedCertificate.relativeNames(value)
            guard
                parts.allSatisfy({ part in
                    let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    return pieces.count == 2 && !pieces[0].trimmingCharacters(in: .whitespaces).isEmpty
                        && !pieces[1].trimmingCharacters(in: .whitespaces).isEmpty
                })
            else {
                throw DomainError.invalid(field, "\(field) must be a distinguished name such as CN=orders,O=Example (RFC 4514)")
            }
            return self
        case .dns:
            // A wildcard is no name a client holds alone, so none is registered.
            let lowered = IPAddressText.asciiLowercased(value)
            let labels = lowered.split(separator: ".", omittingEmptySubsequences: false)
            let valid =
                value.utf8.count <= 253 && labels.count >= 1
                && labels.allSatisfy { label in
                    return !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                        && label.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
                }
            guard valid else { throw DomainError.invalid(field, "\(field) must be a DNS name") }
            return TokenBinding.CertificateName(kind: kind, value: lowered)
        case .uri:
            guard let url = URL(string: value), let scheme = url.scheme, !scheme.isEmpty, !value.contains(" ") else {
                throw DomainError.invalid(field, "\(field) must be an absolute URI")
            }
            return self
        case .ip:
            guard let canonical = IPAddressText.canonical(value) else {
                throw DomainError.invalid(field, "\(field) must be an IPv4 or IPv6 address")
            }
            return TokenBinding.CertificateName(kind: kind, value: canonical)
        case .email:
            let pieces = value.split(separator: "@", omittingEmptySubsequences: false)
            guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty, !value.contains(" ") else {
                throw DomainError.invalid(field, "\(field) must be an e-mail address")
            }
            return self
        }
    }
}

/// IP addresses as text, in one canonical spelling per address.
public enum IPAddressText {
    /// The canonical text of an IPv4 or IPv6 address (`inet_ntop`'s), or `nil`.
    public static func canonical(_ text: String) -> String? {
        if let bytes = bytes(text) { return Self.text(bytes) }
        return nil
    }

    /// The address's 4 or 16 bytes, or `nil` when `text` is not an address.
    public static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// `text` with ASCII letters in lower case and every other character kept: DNS
    /// names compare so, without Unicode's case mappings (K, the Kelvin sign, is not k).
    public static func asciiLowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    /// The canonical text of 4 or 16 address bytes.
    public static func text(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        var buffer = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        return ok ? String(cString: buffer) : nil
    }
}

/// A client certificate as the server received it: from the TLS handshake or a
/// trusted proxy's `Client-Cert` header, read by the HTTP layer (docs/binding.md).
public struct PresentedCertificate: Sendable, Hashable {
    /// `x5t#S256`: base64url SHA-256 of the DER.
    public let thumbprint: String
    /// The subject as RFC 4514 writes it.
    public let subjectDN: String
    /// Subject alternative names by kind (`san_dns`, `san_uri`, `san_ip`, `san_email`).
    public let alternativeNames: [TokenBinding.CertificateName]
    /// The RFC 7638 thumbprint of the certificate's public key, when it is a key type
    /// Tessera reads: matched against registered keys for `self_signed_tls_client_auth`.
    public let publicKeyThumbprint: String?
    /// Whether the certificate chains to a CA the operator trusts for
    /// `tls_client_auth`, is within its validity, and is not limited to other uses
    /// than client authentication.
    public let chainsToTrustedCA: Bool
    /// Whether it is self-signed: its issuer is its subject and its own key verifies
    /// its signature, so whoever made it held the private key.
    public let signedByOwnKey: Bool

    public init(
        thumbprint: String, subjectDN: String, alternativeNames: [TokenBinding.CertificateName], publicKeyThumbprint: String?,
        chainsToTrustedCA: Bool, signedByOwnKey: Bool = false
    ) {
        self.signedByOwnKey = signedByOwnKey
        self.thumbprint = thumbprint
        self.subjectDN = subjectDN
        self.alternativeNames = alternativeNames
        self.publicKeyThumbprint = publicKeyThumbprint
        self.chainsToTrustedCA = chainsToTrustedCA
    }

    /// Whether this certificate carries `name` (for `tls_client_auth`). A subject is
    /// compared as a DN: RDN by RDN in order, attribute types without case, values
    /// byte for byte once the ASCII spaces around them are dropped; a DNS name without
    /// ASCII case; the rest byte for byte.
    public func carries(_ name: TokenBinding.CertificateName) -> Bool {
        switch name.kind {
        case .subjectDN:
            return Array(Self.canonicalDN(subjectDN).utf8) == Array(Self.canonicalDN(name.value).utf8)
        case .dns:
            let wanted = Array(IPAddressText.asciiLowercased(name.value).utf8)
            return alternativeNames.contains { $0.kind == .dns && Array(IPAddressText.asciiLowercased($0.value).utf8) == wanted }
        case .ip, .uri, .email:
            return alternativeNames.contains { $0.kind == name.kind && Array($0.value.utf8) == Array(name.value.utf8) }
        }
    }

    /// A DN in the form two spellings of the same name share: RDNs split on unescaped
    /// `,` (or `;`), ASCII spaces around types and values dropped, attribute types in
    /// ASCII upper case; values are kept as they are (no Unicode case folding or
    /// normalization, so look-alike characters do not match).
    public static func canonicalDN(_ dn: String) -> String {
        func trimmed(_ text: Substring) -> Substring {
            var text = text
            while text.utf8.first == 0x20 { text = text.dropFirst() }
            while text.utf8.last == 0x20 { text = text.dropLast() }
            return text
        }
        return relativeNames(dn).map { part -> String in
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pieces.count == 2 else { return String(trimmed(Substring(part))) }
            let type = String(decoding: trimmed(pieces[0]).utf8.map { (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 }, as: UTF8.self)
            return type + "=" + trimmed(pieces[1])
        }.joined(separator: ",")
    }

    /// The RDNs of a DN: split on `,` and `;` that no backslash escapes.
    static func relativeNames(_ dn: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var escaped = false
        for character in dn {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                current.append(character)
                escaped = true
            } else if character == "," || character == ";" {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        return parts
    }
}
