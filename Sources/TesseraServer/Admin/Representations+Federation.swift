import Foundation
import TesseraCore
import TesseraJOSE

/// The wire shapes of federated credentials and of the dry run (docs/federation.md).
extension Representation {
    struct FederatedCredentialJSON: Encodable {
        let id: String
        let serviceAccountID: String
        let name: String
        let issuer: String
        @Nullable var audience: String?
        @Nullable var subject: String?
        let claims: [String: String]
        @Nullable var scopes: [String]?
        @Nullable var jwksURI: String?
        @Nullable var jwks: JWKSet?
        let allowWithoutJTI: Bool
        let createdAt: Date

        /// Throws only if the stored key set, written normalized, no longer reads.
        init(_ credential: FederatedCredential) throws {
            id = credential.id.lowercased
            serviceAccountID = credential.accountID.lowercased
            name = credential.name
            issuer = credential.issuer
            audience = credential.audience
            subject = credential.subject
            claims = credential.claims
            scopes = credential.scopes
            jwksURI = credential.jwksURI
            jwks = try credential.jwks.map { try JSONDecoder().decode(JWKSet.self, from: Data($0.utf8)) }
            allowWithoutJTI = credential.allowWithoutJTI
            createdAt = credential.createdAt
        }

        enum CodingKeys: String, CodingKey {
            case id, name, issuer, audience, subject, claims, scopes, jwks
            case serviceAccountID = "service_account_id"
            case jwksURI = "jwks_uri"
            case allowWithoutJTI = "allow_without_jti"
            case createdAt = "created_at"
        }
    }

    /// The dry run's answer.
    struct FederationTestJSON: Encodable {
        @Nullable var matched: Candidate?
        let token: Token
        let candidates: [Candidate]

        init(_ result: FederationService.DryRun) {
            matched = result.matched.map { Candidate($0, withReasons: false) }
            let token = result.token
            self.token = Token(iss: token.issuer, sub: token.subject, aud: token.audience, exp: token.exp, iat: token.iat, jti: token.jti)
            candidates = result.candidates.map { Candidate($0, withReasons: true) }
        }

        /// An account's credential and, among the candidates, whether and why not it matches.
        struct Candidate: Encodable {
            let serviceAccountID: String
            @Nullable var clientID: String?
            let credentialID: String
            let credentialName: String
            /// Absent for the matched account.
            let matches: Bool?
            let reasons: [String]?

            init(_ verdict: FederationService.Verdict, withReasons: Bool) {
                serviceAccountID = verdict.credential.accountID.lowercased
                clientID = verdict.clientID
                credentialID = verdict.credential.id.lowercased
                credentialName = verdict.credential.name
                matches = withReasons ? verdict.matches : nil
                reasons = withReasons ? verdict.reasons : nil
            }

            enum CodingKeys: String, CodingKey {
                case matches, reasons
                case serviceAccountID = "service_account_id"
                case clientID = "client_id"
                case credentialID = "credential_id"
                case credentialName = "credential_name"
            }
        }

        struct Token: Encodable {
            let iss: String
            @Nullable var sub: String?
            let aud: [String]
            @Nullable var exp: Int64?
            @Nullable var iat: Int64?
            @Nullable var jti: String?
        }
    }
}
