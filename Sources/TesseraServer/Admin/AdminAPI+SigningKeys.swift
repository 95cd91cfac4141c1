import Foundation
import Hummingbird
import TesseraCore

/// The issuer's signing keys under `/v1/signing-keys` (super admins): listed without
/// key material, and rotated under the rule `tessera keys rotate` follows.
extension AdminAPI {
    /// The next key first, then the active one, then retired keys, newest first.
    func listSigningKeys(_ call: Call) async throws -> (Response, resourceID: String?) {
        let order: [StoredSigningKey.State: Int] = [.next: 0, .active: 1, .retired: 2]
        let keys = try await tessera.storage.signingKeys().sorted {
            (order[$0.state] ?? 3, -$0.createdAt.timeIntervalSince1970) < (order[$1.state] ?? 3, -$1.createdAt.timeIntervalSince1970)
        }
        return (.json(Representation.PageJSON(items: keys.map(Representation.SigningKey.init), nextCursor: nil)), nil)
    }

    /// Without a next key, publishes a new one that signs once it has been published
    /// for the JWKS max-age plus 10 s; with a next key published that long, promotes it.
    /// This server's key ring reloads at once; other replicas within seconds.
    func rotateSigningKey(_ call: Call) async throws -> (Response, resourceID: String?) {
        let now = tessera.dependencies.now()
        let algorithm = keyPolicy?.algorithm ?? tessera.keyRing.snapshot?.active.algorithm ?? .es256
        let publishAhead = keyPolicy?.publishAhead ?? TimeInterval(jwksMaxAge + 10)
        let change = try await tessera.keyRing.rotate(algorithm: algorithm, publishAhead: publishAhead, now: now)
        try await tessera.keyRing.load(generating: nil, now: now, retirementGrace: keyPolicy?.retirementGrace ?? KeyPolicy.defaultRetirementGrace)
        let body: Representation.KeyChange
        switch change {
        case .scheduled(let kid, let at): body = Representation.KeyChange(kid: kid, result: "scheduled", activatesAt: at)
        case .pending(let kid, let at): body = Representation.KeyChange(kid: kid, result: "pending", activatesAt: at)
        case .promoted(let kid): body = Representation.KeyChange(kid: kid, result: "promoted", activatesAt: nil)
        case .removed(let kid): body = Representation.KeyChange(kid: kid, result: "removed", activatesAt: nil)
        }
        return (.json(body), change.kid)
    }
}
