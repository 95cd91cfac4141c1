import ArgumentParser

@main
struct TesseraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "An OAuth 2.0 client-credentials token issuer for machine-to-machine authentication.",
        discussion: """
            Start with `tessera serve`, create a first admin account with `tessera bootstrap --tenant SLUG --json`, \
            then create service accounts through the admin API and exchange their credentials for tokens at POST /oauth2/token.
            """,
        subcommands: [
            Serve.self, BootstrapCommand.self, MigrateCommand.self, TokenCommand.self, VerifyCommand.self, KeysCommand.self, ConsoleCommand.self,
            AccountsCommand.self, SecretsCommand.self, RolesCommand.self, AuditCommand.self,
        ]
    )
}
