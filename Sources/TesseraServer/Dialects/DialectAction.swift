import Foundation
import TesseraCore

/// What a dialect operation asks the core to do. The pipeline runs it through the
/// use cases and writes its audit event; a dialect never calls either itself.
enum DialectAction: Sendable {
    case createAccount(NewServiceAccount)
    case createSecret(for: AccountReference, NewClientSecret)
    /// One page of the tenant's accounts; `after` is the last `number` seen.
    case listAccounts(ServiceAccountFilter, after: Int64?, limit: Int)
    /// A page by position (`offset`, `limit`) with the number of matching accounts,
    /// for APIs that page by offset; `exactName` keeps only that name. Positions past
    /// ``DialectPipeline/offsetWindow`` are not reached.
    case listAccountsAt(ServiceAccountFilter, exactName: String?, offset: Int, limit: Int)
    case getAccount(AccountReference)
    case updateAccount(AccountReference, ServiceAccountPatch)
    /// Gives the account the roles that grant exactly these scopes (``RoleService/roles(grantingExactly:in:field:)``).
    case setPermissions(AccountReference, Set<String>)
    /// Changes several accounts, each by the patch `change` computes from it as it is
    /// (Mixpanel's project membership); all are found before any changes.
    case updateEach([AccountReference], change: @Sendable (ServiceAccount) -> ServiceAccountPatch)
    /// Deletes the account; with `refusingActiveAPITokens`, an account that still
    /// holds an enabled, unexpired API token is refused instead, with 412 Precondition
    /// Failed, which the dialect renders in its own terms.
    case deleteAccount(AccountReference, refusingActiveAPITokens: Bool = false)
    /// The account's credentials of one kind.
    case listSecrets(AccountReference, ClientSecret.Kind)
    case updateSecret(AccountReference, secret: UUID, ClientSecret.Kind, enabled: Bool)
    case deleteSecret(AccountReference, secret: UUID, ClientSecret.Kind)

    /// The kind of action, which a route declares before its request is read.
    enum Kind: Sendable, Equatable {
        case createAccount, createSecret(ClientSecret.Kind)
        case listAccounts, getAccount, updateAccount, deleteAccount
        case listSecrets, updateSecret(ClientSecret.Kind), deleteSecret(ClientSecret.Kind)

        /// The audit event's action and resource type, the native API's for the same
        /// change: one per kind, so no route can write a change without it. Reads
        /// are not audited, as on the native API.
        var audit: AdminAPI.Audit? {
            switch self {
            case .createAccount: AdminAPI.Audit(action: "service_account.create", resource: "service_account")
            case .updateAccount: AdminAPI.Audit(action: "service_account.update", resource: "service_account")
            case .deleteAccount: AdminAPI.Audit(action: "service_account.delete", resource: "service_account")
            case .createSecret(let kind): Self.credential(kind, "create")
            case .updateSecret(let kind): Self.credential(kind, "update")
            case .deleteSecret(let kind): Self.credential(kind, "delete")
            case .listAccounts, .getAccount, .listSecrets: nil
            }
        }

        private static func credential(_ kind: ClientSecret.Kind, _ verb: String) -> AdminAPI.Audit {
            let resource = kind == .apiToken ? "api_token" : "secret"
            return AdminAPI.Audit(action: "\(resource).\(verb)", resource: resource)
        }
    }

    var kind: Kind {
        switch self {
        case .createAccount: .createAccount
        case .createSecret(_, let input): .createSecret(input.kind)
        case .listAccounts, .listAccountsAt: .listAccounts
        case .getAccount: .getAccount
        case .updateAccount, .setPermissions, .updateEach: .updateAccount
        case .deleteAccount: .deleteAccount
        case .listSecrets: .listSecrets
        case .updateSecret(_, _, let kind, _): .updateSecret(kind)
        case .deleteSecret(_, _, let kind): .deleteSecret(kind)
        }
    }
}

/// An account with what dialects show beside it: the scopes its roles grant now,
/// and the account that created it (when that is an account of the same tenant).
struct DescribedAccount: Sendable {
    let account: ServiceAccount
    let permissions: Set<String>
    let creator: ServiceAccount?
    /// Its client secrets (not its API tokens), oldest first, with their latest use.
    var secrets: [ClientSecret] = []
    /// Its API tokens, oldest first, with their latest use.
    var apiTokens: [ClientSecret] = []
}

/// What the core did, with what a dialect's answer shows beside it.
enum DialectOutcome: Sendable {
    /// A new account with its first secret; `permissions` are the scopes its roles
    /// grant, `creator` the calling account and `creatorTenant` that account's tenant.
    case accountCreated(CreatedServiceAccount, permissions: Set<String>, creator: ServiceAccount?, creatorTenant: Tenant?)
    case secretCreated(CreatedClientSecret, account: ServiceAccount)
    /// One page of accounts; `nextCursor` is the last `number` on it when more follow.
    case accounts([DescribedAccount], nextCursor: Int64?)
    /// A page by position, with the number of accounts that match in all.
    case accountsAt([DescribedAccount], total: Int)
    /// One account, read or changed.
    case account(DescribedAccount)
    case accountDeleted(ServiceAccount)
    case accountsUpdated([ServiceAccount])
    case secrets([ClientSecret], account: ServiceAccount)
    case secretUpdated(ClientSecret, account: ServiceAccount)
    case secretDeleted(UUID, account: ServiceAccount)

    /// The resources the audit events name, one event each (none: one event without).
    var resourceIDs: [String] {
        switch self {
        case .accountCreated(let created, _, _, _): [created.account.id.lowercased]
        case .secretCreated(let created, _): [created.secret.id.lowercased]
        case .account(let described): [described.account.id.lowercased]
        case .accountDeleted(let account): [account.id.lowercased]
        case .accountsUpdated(let accounts): accounts.map(\.id.lowercased)
        case .secretUpdated(let secret, _): [secret.id.lowercased]
        case .secretDeleted(let id, _): [id.lowercased]
        case .accounts, .accountsAt, .secrets: []
        }
    }
}
