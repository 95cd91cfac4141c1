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
/// else a trusted proxy's `Client-Cert` header; checked against the client CAs.
public final class ClientCertificates: Sendable {
    /// The listener asks clients for certificates (`--tls-client-ca`).
    public let fromHandshake: Bool
    /// Proxies whose `Client-Cert` header is believed.
    public let trustedProxies: TrustedProxies
    private let authorities: [Certificate]
    /// Certificates already read, by the SHA-256 of their DER: reading one means a
    /// parse and a chain check, which a client presenting it again need not repeat.
    private let cache = Mutex<[String: (certificate: PresentedCertificate, until: Date)]>([:])
    /// The intermediates clients sent in their handshakes, by the SHA-256 of the
    /// leaf's DER: the handshake hands the chain to the verification callback, not to
    /// the request. Intermediates are public and must still chain to a client CA.
    private let handshakeChains = Mutex<[String: [[UInt8]]]>([:])
    private static let cacheLifetime: TimeInterval = 60
    private static let cacheLimit = 4096

    /// - Parameter authorities: PEM text of the CAs `tls_client_auth` trusts.
    public init(authoritiesPEM: String?, fromHandshake: Bool, trustedProxies: TrustedProxies) throws {
        self.fromHandshake = fromHandshake
        self.trustedProxies = trustedProxies
        authorities = try authoritiesPEM.map { pem in try PEMDocument.parseMultiple(pemString: pem).map { try Certificate(pemDocument: $0) } } ?? []
    }

    /// Nothing is asked for and nothing believed.
    public static let none = try! ClientCertificates(authoritiesPEM: nil, fromHandshake: false, trustedProxies: TrustedProxies())

    /// Whether a certificate can arrive at all: what the metadata advertises.
    public var isEnabled: Bool { fromHandshake || !trustedProxies.isEmpty }

    /// The certificate the request presents: a trusted proxy's `Client-Cert`, else
    /// the handshake's; `nil` when there is none or it cannot be read.
    func certificate(of request: Request, context: TesseraRequestContext) async -> PresentedCertificate? {
        guard isEnabled else { return nil }
        if trustedProxies.contains(context.remoteAddress?.ipAddress ?? "") {
            guard let header = request.headers[.clientCert], let der = Self.byteSequence(header) else { return nil }
            let chain = request.headers[.clientCertChain].map { $0.split(separator: ",").compactMap { Self.byteSequence(String($0)) } } ?? []
            return await read(der: der, intermediates: chain)
        }
        guard fromHandshake, let channel = context.channel else { return nil }
        // An HTTP/1 connection holds its TLS handler; an HTTP/2 stream's is on its
        // connection, the stream's parent.
        let peer: NIOSSLCertificate?
        if let own = try? await channel.nioSSL_peerCertificate().get() {
            peer = own
        } else if let parent = channel.parent {
            peer = try? await parent.nioSSL_peerCertificate().get()
        } else {
            peer = nil
        }
        guard let peer, let der = try? peer.toDERBytes() else { return nil }
        let intermediates = handshakeChains.withLock { $0[Confirmation.certificateThumbprint(der: der)] } ?? []
        return await read(der: der, intermediates: intermediates)
    }

    /// Keeps the intermediates of a chain a client presented in its handshake.
    func noteHandshakeChain(_ chain: [NIOSSLCertificate]) {
        guard chain.count > 1, chain.count <= 8, let leaf = try? chain[0].toDERBytes() else { return }
        let intermediates = chain.dropFirst().compactMap { try? $0.toDERBytes() }
        let thumbprint = Confirmation.certificateThumbprint(der: leaf)
        handshakeChains.withLock { chains in
            if chains.count >= Self.cacheLimit { chains.removeAll(keepingCapacity: true) }
            chains[thumbprint] = intermediates
        }
    }

    /// An RFC 8941 byte sequence, `:base64:`, as RFC 9440 §2.2 sends a certificate.
    static func byteSequence(_ text: String) -> [UInt8]? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.count >= 2, trimmed.hasPrefix(":"), trimmed.hasSuffix(":"), trimmed.utf8.count <= 64 * 1024 else { return nil }
        return Data(base64Encoded: String(trimmed.dropFirst().dropLast())).map(Array.init)
    }

    func read(der: [UInt8], intermediates: [[UInt8]]) async -> PresentedCertificate? {
        let thumbprint = Confirmation.certificateThumbprint(der: der)
        // Whether a certificate chains depends on the intermediates it came with.
        let key = intermediates.isEmpty ? thumbprint : thumbprint + " " + Confirmation.certificateThumbprint(der: intermediates.flatMap { $0 })
        let now = Date()
        if let cached = cache.withLock({ $0[key] }), cached.until > now { return cached.certificate }
        guard let certificate = try? Certificate(derEncoded: der) else { return nil }
        var chains = false
        if !authorities.isEmpty {
            var verifier = Verifier(rootCertificates: CertificateStore(authorities)) { RFC5280Policy(validationTime: now) }
            let store = CertificateStore(intermediates.compactMap { try? Certificate(derEncoded: $0) })
            if case .validCertificate = await verifier.validate(leaf: certificate, intermediates: store) { chains = true }
        }
        let presented = PresentedCertificate(
            thumbprint: thumbprint, subjectDN: certificate.subject.description,
            alternativeNames: Self.alternativeNames(of: certificate), publicKeyThumbprint: Self.publicKeyThumbprint(of: certificate),
            chainsToTrustedCA: chains
        )
        cache.withLock { entries in
            if entries.count >= Self.cacheLimit { entries = entries.filter { $0.value.until > now } }
            if entries.count < Self.cacheLimit { entries[key] = (presented, now.addingTimeInterval(Self.cacheLifetime)) }
        }
        return presented
    }

    static func alternativeNames(of certificate: Certificate) -> [TokenBinding.CertificateName] {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            switch name {
            case .dnsName(let value): TokenBinding.CertificateName(kind: .dns, value: value.lowercased())
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
