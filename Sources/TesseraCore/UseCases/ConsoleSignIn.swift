import Foundation
import TesseraJOSE

/// One-time sign-in links for the web console (docs/console.md).
///
/// `tessera console` makes a code for an admin account: a version byte, the expiry,
/// 128 random bits and the account's client id, sealed under the master key with
/// AES-GCM. Nobody without the master key can forge one or read what it names. The
/// console redeems it once for an access token: its random bits are spent in the
/// store's table of used one-time ids (the one client assertions' `jti`s use), which
/// every replica shares, so a second use is refused everywhere. The account must be
/// usable and hold `tessera:admin` when the link is redeemed, not only when made.
public struct ConsoleSignIn: Sendable {
    /// What every code starts with, so that leak scanners can find one.
    public static let prefix = "tsl_"
    /// How long a link works unless asked otherwise, in seconds.
    public static let defaultLifetime = 300
    /// The longest a link may work, in seconds.
    public static let maximumLifetime = 900
    /// Bound to every sealed code with the issuer URL, so that nothing else sealed
    /// under the master key (the signing keys) can pass for one, nor a code made for
    /// another issuer that shares the master key (a staging copy).
    var context: String { "tessera console sign-in v1 " + issuer }
    /// The namespace under which spent codes are kept beside assertion ids.
    static let spentNamespace = "tessera:console-sign-in"
    /// The longest code accepted, in characters.
    static let maximumCodeLength = 256

    /// A link's code and when it stops working.
    public struct Link: Sendable {
        public let code: String
        public let expiresAt: Date
    }

    /// A code that does not sign anyone in (answered 400); `description` says why
    /// in words fit for the person holding the link.
    public struct Refused: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    private let issuer: String
    private let masterKey: MasterKey
    private let clients: ClientDirectory
    private let tokens: TokenService
    private let spent: any ClientKeyStorage
    private let audit: AuditLog
    private let dependencies: Dependencies

    init(
        issuer: String, masterKey: MasterKey, clients: ClientDirectory, tokens: TokenService, spent: any ClientKeyStorage, audit: AuditLog,
        dependencies: Dependencies
    ) {
        self.issuer = issuer
        self.masterKey = masterKey
        self.clients = clients
        self.tokens = tokens
        self.spent = spent
        self.audit = audit
        self.dependencies = dependencies
    }

    /// A code for the account `clientID`, working `lifetime` seconds, recorded in
    /// the account's tenant's audit log as made by `actor`. The account must be
    /// able to sign in now.
    public func link(clientID: String, lifetime: Int = defaultLifetime, actor: String) async throws -> Link {
        guard (1...Self.maximumLifetime).contains(lifetime) else {
            throw Refused(description: "a sign-in link works for 1 to \(Self.maximumLifetime) seconds")
        }
        let now = dependencies.now()
        let admin = try await adminRecord(clientID: clientID, now: now)
        let expires = TimeClaims.seconds(now) + Int64(lifetime)
        var plain: [UInt8] = [1]
        withUnsafeBytes(of: expires.bigEndian) { plain.append(contentsOf: $0) }
        plain += dependencies.randomBytes(16)
        plain += Array(clientID.utf8)
        let code = Self.prefix + Base64URL.encode(try masterKey.seal(plain, context: context))
        try await record(admin, action: "console.sign_in_link.create", outcome: .success, status: 201, actor: actor, requestID: nil)
        return Link(code: code, expiresAt: Date(timeIntervalSince1970: TimeInterval(expires)))
    }

    /// Redeems a code once: an access token for the issuer (the admin API's
    /// audience), of the account the code names, carrying `tessera:admin` (and
    /// `tessera:super` when its roles grant it) as they are now.
    /// Refused when the code is not one of ours, has expired, was used before, or
    /// names an account that is gone, disabled or no longer an administrator. Every
    /// attempt with a genuine code is recorded in the audit log.
    public func redeem(_ code: String, requestID: String?) async throws -> (token: TokenService.IssuedToken, record: ClientRecord) {
        let invalid = Refused(description: "this is not a sign-in link of this server")
        guard code.utf8.count <= Self.maximumCodeLength, code.hasPrefix(Self.prefix),
            let sealed = Base64URL.decode(code.dropFirst(Self.prefix.count))
        else { throw invalid }
        let plain: [UInt8]
        do {
            plain = try masterKey.unseal(sealed, context: context)
        } catch {
            throw invalid
        }
        guard plain.count > 25, plain[0] == 1, let clientID = String(validating: plain[25...], as: UTF8.self) else { throw invalid }
        let expires = plain[1..<9].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        let nonce = Base64URL.encode(plain[9..<25])
        let now = dependencies.now()
        let known = try await clients.client(id: clientID, now: now)
        func refuse(_ reason: String) async -> Refused {
            if let known {
                try? await record(
                    known, action: "console.sign_in", outcome: .failure, status: 400, actor: known.account.id.lowercased, requestID: requestID,
                    detail: reason)
            }
            return Refused(description: reason)
        }
        guard TimeClaims.seconds(now) < expires else { throw await refuse("this sign-in link has expired; ask for a new one") }
        let expiry = Date(timeIntervalSince1970: TimeInterval(expires))
        guard let current = known, current.account.isUsable(at: now) else {
            throw await refuse("the account of this sign-in link is disabled or no longer exists")
        }
        guard current.allowedScopes.contains(TesseraScope.admin) else {
            throw await refuse("the account of this sign-in link is no longer an administrator")
        }
        // The console presents its token as a bearer token: an account whose tokens must
        // be bound (docs/binding.md) gets none this way.
        guard !current.account.binding.dpopRequired, !current.account.binding.certificateRequired else {
            throw await refuse("the account of this sign-in link requires DPoP-bound or certificate-bound tokens, which the console cannot use")
        }
        // Only the console's authority: administration (of every tenant for a super
        // admin), not the account's other scopes, and only for the admin API. The token
        // is made before the link is spent, so a refusal for going too fast (429) leaves
        // the link good for a retry; a token made for a link spent meanwhile is dropped.
        let scope = [TesseraScope.admin, TesseraScope.superAdmin].filter(current.allowedScopes.contains).joined(separator: " ")
        let issued = try tokens.issue(for: .init(record: current, secret: nil), scope: scope, audiences: [issuer])
        guard try await spent.useAssertionID(nonce, clientID: Self.spentNamespace, expiresAt: expiry) else {
            throw await refuse("this sign-in link was already used; a link works once")
        }
        // A token already made is answered even when the audit write fails, as the
        // admin API answers a change it made; the failure is the store's to report.
        try? await record(current, action: "console.sign_in", outcome: .success, status: 200, actor: current.account.id.lowercased, requestID: requestID)
        return (issued, current)
    }

    private func adminRecord(clientID: String, now: Date) async throws -> ClientRecord {
        guard let record = try await clients.client(id: clientID, now: now), record.account.isUsable(at: now) else {
            throw Refused(description: "the account is disabled, expired or does not exist")
        }
        guard record.allowedScopes.contains(TesseraScope.admin) else {
            throw Refused(description: "the account's roles grant no \(TesseraScope.admin)")
        }
        return record
    }

    /// `detail` says why a sign-in was refused, as the caller was told.
    private func record(
        _ client: ClientRecord, action: String, outcome: AuditEvent.Outcome, status: Int, actor: String, requestID: String?,
        detail: String? = nil
    ) async throws {
        try await audit.record(
            AuditEvent(
                tenantID: client.tenant.id, actor: actor, action: action, resourceType: "service_account",
                resourceID: client.account.id.lowercased, outcome: outcome, status: status, requestID: requestID, at: dependencies.now(),
                detail: detail
            ))
    }
}
