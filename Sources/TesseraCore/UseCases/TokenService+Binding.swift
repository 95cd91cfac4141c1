import Foundation
import TesseraJOSE

/// Client certificates and DPoP at the token endpoint (docs/binding.md).
extension TokenService {
    /// Authenticates `clientID` by the certificate it presented (RFC 8705 §2,
    /// docs/binding.md): `tls_client_auth` when the certificate chains to a trusted
    /// CA and carries the name the account registers, else
    /// `self_signed_tls_client_auth`, when the account allows it, the certificate is
    /// self-signed and its public key is one of the account's usable registered keys. Every failure is `invalid_client`, throttled as others are.
    public func authenticate(certificate: PresentedCertificate, clientID: String, from address: String? = nil) async throws -> AuthenticatedClient {
        try await throttled(clientID: clientID, address: address) {
            let now = dependencies.now()
            let record: ClientRecord?
            do {
                record = clientID.utf8.count <= 256 ? try await clients.client(id: clientID, now: now) : nil
            } catch {
                throw OAuthError.temporarilyUnavailable("the client store is unavailable")
            }
            guard let record, record.account.isUsable(at: now) else { throw OAuthError.invalidClient() }
            let byName = record.account.binding.tlsClientAuth.map { certificate.chainsToTrustedCA && certificate.carries($0) } ?? false
            let byKey =
                !record.account.binding.selfSigned || !certificate.signedByOwnKey
                ? false
                : certificate.publicKeyThumbprint.map { presented in
                    record.keys.contains { $0.isUsable(at: now) && (try? $0.jwk.thumbprint()) == presented }
                } ?? false
            guard byName || byKey else { throw OAuthError.invalidClient("the client certificate does not authenticate this client") }
            return used(AuthenticatedClient(record: record, secret: nil, certificate: certificate))
        }
    }

    /// The `cnf` a token for `client` carries (docs/binding.md): the DPoP key's
    /// thumbprint when a proof came with the request; the certificate's when the
    /// client authenticated with it, or presented one and its account requires
    /// certificate-bound tokens. An account that requires a binding the request
    /// cannot give is refused.
    public func confirmation(for client: AuthenticatedClient, dpop: DPoPProof?, certificate: PresentedCertificate?) throws -> Confirmation? {
        let binding = client.record.account.binding
        if binding.dpopRequired && dpop == nil {
            throw OAuthError(code: "invalid_dpop_proof", description: "this client's tokens must be DPoP-bound: send a DPoP proof")
        }
        var certificateThumbprint = client.certificate?.thumbprint
        if binding.certificateRequired && certificateThumbprint == nil {
            guard let certificate else {
                throw OAuthError.invalidRequest("this client's tokens must be bound to its certificate: connect with a client certificate")
            }
            certificateThumbprint = certificate.thumbprint
        }
        let confirmation = Confirmation(jkt: dpop?.thumbprint, x5tS256: certificateThumbprint)
        return confirmation.isEmpty ? nil : confirmation
    }
}
