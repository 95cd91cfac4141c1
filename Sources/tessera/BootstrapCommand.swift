import ArgumentParser
import Foundation
import TesseraCore

struct BootstrapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Create a tenant (if missing) and a new admin service account in it.",
        discussion: """
            Prints the new account's credentials; the secret is shown only this once. With --json, prints exactly one \
            JSON object: {"tenant_id", "tenant_slug", "service_account_id", "client_id", "client_secret"}. \
            Uses the same store and key options (and environment) as `serve`, so run it against the same database.
            """
    )

    @Option(help: "Slug of the tenant: 1–63 characters of a-z, 0-9 and '-'.")
    var tenant: String

    @Option(help: "Role of the new account: admin (this tenant) or super_admin (every tenant).")
    var role: String = "admin"

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard Tenant.isValidSlug(tenant) else {
            throw ValidationError("--tenant must be 1–63 characters of a-z, 0-9 and '-', starting with a letter or digit")
        }
    }

    func run() async throws {
        Logs.bootstrap(level: store.logLevel)
        let tessera = Tessera(issuer: "http://localhost", storage: try await store.openStorage(), masterKey: try store.masterKey())
        // Generate the signing key now too, so the master key is checked against the store.
        try await tessera.start(signingAlgorithm: try store.signingAlgorithm())
        let result: Bootstrap.Result
        do {
            result = try await Bootstrap(tenants: tessera.tenants, accounts: tessera.accounts).run(tenantSlug: tenant, role: role)
        } catch let error as DomainError {
            throw ValidationError(error.message)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(
                """
                tenant:             \(result.tenantSlug) (\(result.tenantID))
                service account:    \(result.serviceAccountID)
                client_id:          \(result.clientID)
                client_secret:      \(result.clientSecret)

                The secret is shown only once; store it now.
                """)
        }
    }
}
