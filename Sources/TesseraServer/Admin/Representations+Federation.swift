import Foundation
import TesseraCore
import TesseraJOSE

/// The wire shapes of federated credentials and of the dry run (docs/federation.md).
extension Representation {
    struct FederatedCredentialJSON: Encodable {
        let credential: FederatedCredential

        init(_ credential: FederatedCredential) {
            self.credential = credential
        }

        enum CodingKeys: String, CodingKey {
            case id, name, issuer, audience, subject, claims, scopes, jwks
            case serviceAccountID = "service_account_id"
            case jwksURI = "jwks_uri"
            case allowWithoutJTI = "allow_without_jti"
            case createdAt = "created_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(credential.id.lowercased, forKey: .id)
            try container.encode(credential.accountID.lowercased, forKey: .serviceAccountID)
            try container.encode(credential.name, forKey: .name)
            try container.encode(credential.issuer, forKey: .issuer)
            try container.encode(credential.audience, forKey: .audience)
            try container.encode(credential.subject, forKey: .subject)
            try container.encode(credential.claims, forKey: .claims)
            try container.encode(credential.scopes, forKey: .scopes)
            try container.encode(credential.jwksURI, forKey: .jwksURI)
            let keys = try credential.jwks.map { try JSONDecoder().decode(JWKSet.self, from: Data($0.utf8)) }
            try container.encode(keys, forKey: .jwks)
            try container.encode(credential.allowWithoutJTI, forKey: .allowWithoutJTI)
            try container.encode(credential.createdAt, forKey: .createdAt)
        }
    }

    /// The dry run's answer.
    struct FederationTestJSON: Encodable {
        let result: FederationService.DryRun

        init(_ result: FederationService.DryRun) {
            self.result = result
        }

        struct Candidate: Encodable {
            let verdict: FederationService.Verdict
            let withReasons: Bool

            enum CodingKeys: String, CodingKey {
                case matches, reasons
                case serviceAccountID = "service_account_id"
                case clientID = "client_id"
                case credentialID = "credential_id"
                case credentialName = "credential_name"
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(verdict.credential.accountID.lowercased, forKey: .serviceAccountID)
                try container.encode(verdict.clientID, forKey: .clientID)
                try container.encode(verdict.credential.id.lowercased, forKey: .credentialID)
                try container.encode(verdict.credential.name, forKey: .credentialName)
                if withReasons {
                    try container.encode(verdict.matches, forKey: .matches)
                    try container.encode(verdict.reasons, forKey: .reasons)
                }
            }
        }

        struct Token: Encodable {
            let iss: String
            let sub: String?
            let aud: [String]
            let exp: Int64?
            let iat: Int64?
            let jti: String?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(iss, forKey: .iss)
                try container.encode(sub, forKey: .sub)
                try container.encode(aud, forKey: .aud)
                try container.encode(exp, forKey: .exp)
                try container.encode(iat, forKey: .iat)
                try container.encode(jti, forKey: .jti)
            }

            enum CodingKeys: String, CodingKey {
                case iss, sub, aud, exp, iat, jti
            }
        }

        enum CodingKeys: String, CodingKey {
            case matched, token, candidates
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(result.matched.map { Candidate(verdict: $0, withReasons: false) }, forKey: .matched)
            let token = result.token
            try container.encode(
                Token(iss: token.issuer, sub: token.subject, aud: token.audience, exp: token.exp, iat: token.iat, jti: token.jti), forKey: .token)
            try container.encode(result.candidates.map { Candidate(verdict: $0, withReasons: true) }, forKey: .candidates)
        }
    }
}
