import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOSSL
import SwiftASN1
import Synchronization
import TesseraCore
import TesseraJOSE
import X509
import _CryptoExtras

/// Where a request's client certificate comes from, and how it is read
/// (docs/binding.md): the TLS handshake when the listener asks for certificates,
/// else the `Client-Cert` header of a proxy listed with `--client-cert-proxy`;
/// checked against the client CAs.
public final class ClientCertificates: Sendable {
    /// The listener asks clients for certificates (`--tls-client-ca` with TLS).
    public let fromHandshake: Bool
    /// Proxies whose `Client-Cert` header is believed.
    public let certificateProxies: TrustedProxies
    private let authorities: [Certificate]
    /// Certificates already read, by the SHA-256 of their DER and of the intermediates
    /// they came with: reading one means a parse and a chain check, which a client
    /// presenting it again need not repeat. A certificate is at most
    /// ``maximumSize`` bytes, so the cache holds at most a few tens of MiB.
    private let cache = Mutex<[String: (certificate: PresentedCertificate, until: Date)]>([:])
    private static let cacheLifetime: TimeInterval = 60
    private static let cacheLimit = 4096
    /// Largest certificate accepted, in DER bytes; larger ones are not read at all.
    static let maximumSize = 8 * 1024
    /// Most intermediates accepted in `Client-Cert-Chain` or a handshake.
    static let maximumIntermediates = 4

    /// - Parameter authoritiesPEM: PEM text of the CAs `tls_client_auth` trusts.
    public init(authoritiesPEM: String?, fromHandshake: Bool, certificateProxies: TrustedProxies) throws {
        self.fromHandshake = fromHandshake
        self.certificateProxies = certificateProxies
        authorities = try authoritiesPEM.map { pem in try PEMDocument.parseMultiple(pemString: pem).map { try Certificate(pemDocument: $0) } } ?? []
    }

    /// Nothing is asked for and nothing believed.
    public static let none = try! ClientCertificates(authoritiesPEM: nil, fromHandshake: false, certificateProxies: TrustedProxies())

    /// Whether a certificate can arrive at all: what the metadata advertises.
    public var isEnabled: Bool { fromHandshake || !certificateProxies.isEmpty }

    /// The certificate the request presents: a certificate proxy's `Client-Cert`, else
    /// the handshake's; `nil` when there is none or it cannot be read.
    func certificate(of request: Request, context: TesseraRequestContext) async -> PresentedCertificate? {
        guard isEnabled else { return nil }
        if certificateProxies.contains(context.remoteAddress?.ipAddress ?? "") {
            guard let header = request.headers[.clientCert], let der = Self.byteSequence(header) else { return nil }
            let chain = request.headers[.clientCertChain].map { $0.split(separator: ",").map { Self.byteSequence(String($0)) } } ?? []
            guard chain.count <= Self.maximumIntermediates else { return nil }
            return await read(der: der, intermediates: chain.compactMap { $0 })
        }
        guard fromHandshake, let channel = context.channel else { return nil }
        // An HTTP/1 connection holds its TLS handler; an HTTP/2 stream's is on its
        // connection, the stream's parent.
        var connection = channel
        var peer = (try? await channel.nioSSL_peerCertificate().get()) ?? nil
        if peer == nil, let parent = channel.parent {
            connection = parent
            peer = (try? await parent.nioSSL_peerCertificate().get()) ?? nil
        }
        guard let peer, let der = try? peer.toDERBytes() else { return nil }
        // The handshake's verification callback (``verifyHandshake(_:)``) left the chain
        // when, and only when, it reached a client CA.
        let chained = (try? await connection.nioSSL_peerValidatedCertificateChain().get()) != nil
        return await read(der: der, chained: chained)
    }

    /// The verification callback of the TLS listener: every certificate passes (the
    /// handshake still proves the client holds its key, and a self-signed one may
    /// authenticate), and the chain, with the intermediates the client sent, is
    /// kept on the connection when it reaches a client CA.
    func verifyHandshake(_ presented: [NIOSSLCertificate]) async -> NIOSSLVerificationResultWithMetadata {
        guard !authorities.isEmpty, let first = presented.first, presented.count <= Self.maximumIntermediates + 1,
            let der = try? first.toDERBytes(), der.count <= Self.maximumSize, let leaf = try? Certificate(derEncoded: der)
        else { return .certificateVerified(VerificationMetadata(nil)) }
        let intermediates = presented.dropFirst().compactMap { try? $0.toDERBytes() }.filter { $0.count <= Self.maximumSize }
        guard await chainsToAuthorities(leaf, intermediates: intermediates) else { return .certificateVerified(VerificationMetadata(nil)) }
        return .certificateVerified(VerificationMetadata(ValidatedCertificateChain(presented)))
    }

    /// An RFC 8941 byte sequence, `:base64:`, as RFC 9440 §2.2 sends a certificate.
    static func byteSequence(_ text: String) -> [UInt8]? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.count >= 2, trimmed.hasPrefix(":"), trimmed.hasSuffix(":"), trimmed.utf8.count <= maximumSize * 2 else { return nil }
        guard let bytes = Data(base64Encoded: String(trimmed.dropFirst().dropLast())).map(Array.init), bytes.count <= maximumSize else { return nil }
        return bytes
    }

    /// Reads a certificate. `chained` says whether the handshake found it chains to a
    /// client CA; without it, `intermediates` are tried here.
    func read(der: [UInt8], intermediates: [[UInt8]] = [], chained: Bool? = nil) async -> PresentedCertificate? {
        guard der.count <= Self.maximumSize, intermediates.allSatisfy({ $0.count <= Self.maximumSize }) else { return nil }
        let thumbprint = Confirmation.certificateThumbprint(der: der)
        // Whether a certificate chains depends on the intermediates it came with.
        let chainKey = chained.map { $0 ? "handshake chained" : "handshake" } ?? Confirmation.certificateThumbprint(der: intermediates.flatMap { $0 })
        let key = thumbprint + " " + chainKey
        let now = Date()
        if let cached = cache.withLock({ $0[key] }), cached.until > now { return cached.certificate }
        guard let certificate = try? Certificate(derEncoded: der) else { return nil }
        var chains = false
        if Self.mayAuthenticateAClient(certificate) {
            if let chained { chains = chained } else { chains = await chainsToAuthorities(certificate, intermediates: intermediates) }
        }
        let presented = PresentedCertificate(
            thumbprint: thumbprint, subjectDN: certificate.subject.description,
            alternativeNames: Self.alternativeNames(of: certificate), publicKeyThumbprint: Self.publicKeyThumbprint(of: certificate),
            chainsToTrustedCA: chains,
            signedByOwnKey: certificate.issuer == certificate.subject && certificate.publicKey.isValidSignature(certificate.signature, for: certificate)
        )
        cache.withLock { entries in
            if entries.count >= Self.cacheLimit { entries = entries.filter { $0.value.until > now } }
            if entries.count < Self.cacheLimit { entries[key] = (presented, now.addingTimeInterval(Self.cacheLifetime)) }
        }
        return presented
    }

    /// Whether `certificate` chains to a client CA, within its validity (RFC 5280).
    private func chainsToAuthorities(_ certificate: Certificate, intermediates: [[UInt8]]) async -> Bool {
        guard !authorities.isEmpty else { return false }
        var verifier = Verifier(rootCertificates: CertificateStore(authorities)) { RFC5280Policy(validationTime: Date()) }
        let store = CertificateStore(intermediates.compactMap { try? Certificate(derEncoded: $0) })
        if case .validCertificate = await verifier.validate(leaf: certificate, intermediates: store) { return true }
        return false
    }

    /// A certificate whose extended key usage leaves out client authentication (a
    /// server's certificate from the same CA) authenticates no client.
    static func mayAuthenticateAClient(_ certificate: Certificate) -> Bool {
        guard let usage = try? certificate.extensions.extendedKeyUsage else { return true }
        return usage.contains(.clientAuth) || usage.contains(.any)
    }

    /// Its subject alternative names, at most 64 of them: a certificate with more is
    /// read with none, so no name of it can match.
    static func alternativeNames(of certificate: Certificate) -> [TokenBinding.CertificateName] {
        guard let names = try? certificate.extensions.subjectAlternativeNames, names.count <= 64 else { return [] }
        return names.compactMap { name in
            switch name {
            case .dnsName(let value): TokenBinding.CertificateName(kind: .dns, value: IPAddressText.asciiLowercased(value))
            case .uniformResourceIdentifier(let value): TokenBinding.CertificateName(kind: .uri, value: value)
            case .rfc822Name(let value): TokenBinding.CertificateName(kind: .email, value: value)
            case .ipAddress(let bytes): IPAddressText.text(Array(bytes.bytes)).map { TokenBinding.CertificateName(kind: .ip, value: $0) }
            default: nil
            }
        }
    }

    /// The RFC 7638 thumbprint of the certificate's key as a JWK, for the key types
    /// registered keys can have (P-256, Ed25519, RSA).
    static func publicKeyThumbprint(of certificate: Certificate) -> String? {
        let jwk: JWK
        if let key = P256.Signing.PublicKey(certificate.publicKey) {
            let raw = Array(key.rawRepresentation)
            jwk = JWK(kty: "EC", crv: "P-256", x: Base64URL.encode(raw[0..<32]), y: Base64URL.encode(raw[32..<64]))
        } else if let key = Curve25519.Signing.PublicKey(certificate.publicKey) {
            jwk = JWK(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(key.rawRepresentation))
        } else if let key = _RSA.Signing.PublicKey(certificate.publicKey), let primitives = try? key.getKeyPrimitives() {
            jwk = JWK(kty: "RSA", n: Base64URL.encode(primitives.modulus), e: Base64URL.encode(primitives.publicExponent))
        } else {
            return nil
        }
        return try? jwk.thumbprint()
    }
}
