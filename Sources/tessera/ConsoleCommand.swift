import ArgumentParser
import Foundation
import TesseraCore

struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Print a one-time link that opens the web console signed in as a tenant's admin.",
        discussion: """
            The link works once, for --lifetime seconds (default 300, at most 900), and both its making and its use are \
            recorded in the tenant's audit log. It signs in as --account (an id or a name; its roles must grant \
            tessera:admin), or else as the tenant's account named console-admin, which is created with the admin role and \
            no secret the first time. The code travels in the URL's fragment, which browsers never send to a server, and \
            leaves the address bar when the page opens. Uses the same store and key options (and environment) as `serve`; \
            with --json, prints {"url", "expires_at", "account_id"}.
            """
    )

    /// The account a link signs in as when none is named.
    static let defaultAccountName = "console-admin"

    @Option(help: "The tenant, by slug or id.")
    var tenant: String

    @Option(help: "The admin account to sign in as, by id or name (default: console-admin, created when missing).")
    var account: String?

    @Option(help: "The server's public URL, as `serve` was given it (env TESSERA_ISSUER; default http://127.0.0.1:8080).")
    var issuer: String?

    @Option(help: "Seconds the link works (1–900; default 300).")
    var lifetime: Int = ConsoleSignIn.defaultLifetime

    @Flag(help: "Print one JSON object instead of the URL alone.")
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard (1...ConsoleSignIn.maximumLifetime).contains(lifetime) else {
            throw ValidationError("--lifetime must be 1–\(ConsoleSignIn.maximumLifetime) seconds")
        }
        if let issuer = issuer ?? Env.value("TESSERA_ISSUER") {
            guard let url = URL(string: issuer), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("--issuer must be an absolute http or https URL")
            }
        }
    }

    func run() async throws {
        Logs.bootstrap(level: store.logLevel)
        let base = Tessera.normalizeIssuer(issuer ?? Env.value("TESSERA_ISSUER") ?? "http://127.0.0.1:8080")
        let tessera = Tessera(issuer: base, storage: try await store.openStorage(), masterKey: try store.masterKey())
        // Loads the signing keys, which checks the master key against the store.
        try await tessera.start(signingAlgorithm: try store.signingAlgorithm())
        let caller = Caller(id: "cli", isSuperAdmin: true)
        do {
            guard let tenant = try await tessera.tenants.find(self.tenant) else {
                throw ValidationError("no tenant \"\(self.tenant)\"")
            }
            let target: ServiceAccount
            if let account {
                let reference = AccountReference(account) ?? .name(account)
                target = try await tessera.accounts.get(reference, in: tenant)
            } else {
                target = try await consoleAccount(in: tenant, tessera: tessera, caller: caller)
            }
            let link = try await tessera.consoleSignIn.link(clientID: target.clientID, lifetime: lifetime, actor: caller.id)
            let url = "\(base)/console/#sign-in=\(link.code)"
            if json {
                let object = ["url": url, "expires_at": link.expiresAt.formatted(.iso8601), "account_id": target.id.lowercased]
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(object), as: UTF8.self))
            } else {
                print(url)
            }
        } catch let error as DomainError {
            throw ValidationError(error.message)
        } catch let refused as ConsoleSignIn.Refused {
            throw ValidationError(refused.description)
        }
    }

    /// The tenant's `console-admin` account, made with the admin role and no secret
    /// when it does not exist: it is only ever signed in through links.
    private func consoleAccount(in tenant: Tenant, tessera: Tessera, caller: Caller) async throws -> ServiceAccount {
        do {
            return try await tessera.accounts.get(.name(Self.defaultAccountName), in: tenant)
        } catch let error as DomainError where error.kind == .notFound {
            let created = try await tessera.accounts.create(
                in: tenant,
                NewServiceAccount(
                    name: Self.defaultAccountName, description: "Signs in to the web console through `tessera console` links.",
                    roles: ["admin"], issuesSecret: false
                ),
                by: caller
            )
            try await tessera.audit.record(
                AuditEvent(
                    tenantID: tenant.id, actor: caller.id, action: "service_account.create", resourceType: "service_account",
                    resourceID: created.account.id.lowercased, outcome: .success, status: 201, requestID: nil, at: tessera.dependencies.now()
                ))
            return created.account
        }
    }
}
