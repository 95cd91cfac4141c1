import ArgumentParser
import Foundation

/// Runs an admin command's body, turning a refusal or a usage error into its
/// message on stderr and its exit status.
private func running(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        throw error.exit()
    }
}

private func path(_ segment: String) -> String { pathSegment(segment) }

struct AccountsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accounts",
        abstract: "Service accounts, through a running server's admin API.",
        discussion: """
            Credentials come from the environment or a file, never from an argument: TESSERA_TOKEN (an access token or \
            an API token), or TESSERA_CLIENT_ID and TESSERA_CLIENT_SECRET, or --credentials FILE (TESSERA_CREDENTIALS) \
            holding what `tessera bootstrap --json` prints. --json prints the API's JSON.
            """,
        subcommands: [List.self, Get.self, Create.self, Disable.self, Enable.self, Delete.self]
    )

    static let listedKeys = ["id", "name", "status", "roles", "client_id", "last_used_at"]
    static let shownKeys = [
        "id", "name", "client_id", "status", "roles", "groups", "audiences", "description", "token_lifetime", "expires_at",
        "created_at", "last_used_at", "client_secret",
    ]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List service accounts, every page unless --limit.")
        @OptionGroup var remote: RemoteOptions
        @Option(help: "Only accounts holding this role.") var role: String?
        @Option(help: "Only accounts with this status: active or disabled.") var status: String?
        @Option(name: .customLong("name-prefix"), help: "Only names starting with this.") var namePrefix: String?
        @Option(help: "At most this many accounts.") var limit: Int?

        func validate() throws {
            if let status, !["active", "disabled"].contains(status) { throw ValidationError("--status must be active or disabled") }
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            try await running {
                let client = try await remote.client()
                let items = try await client.items(
                    "/v1/tenants/\(try await client.tenant())/service-accounts",
                    query: [("role", role), ("status", status), ("name_prefix", namePrefix)], limit: limit)
                if remote.json { try Output.json(["items": items]) } else { Output.lines(items, AccountsCommand.listedKeys) }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one service account.")
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "The account's id.") var account: String

        func run() async throws {
            try await running {
                let client = try await remote.client()
                let body = try await client.call(.GET, "/v1/tenants/\(try await client.tenant())/service-accounts/\(path(account))")
                try AccountsCommand.show(body, json: remote.json)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a service account; its first secret is printed this once.")
        @OptionGroup var remote: RemoteOptions
        @Option(help: "Its name (default: a generated one).") var name: String?
        @Option(help: "A description.") var description: String?
        @Option(help: "A role (repeat for several; default consumer).") var role: [String] = []
        @Option(help: "A group or team (repeat for several).") var group: [String] = []
        @Option(help: "An audience its tokens may name (repeat for several).") var audience: [String] = []
        @Flag(name: .customLong("no-secret"), help: "Make it without a first secret.") var noSecret = false

        func run() async throws {
            try await running {
                var body: [String: Any] = [:]
                if let name { body["name"] = name }
                if let description { body["description"] = description }
                if !role.isEmpty { body["roles"] = role }
                if !group.isEmpty { body["groups"] = group }
                if !audience.isEmpty { body["audiences"] = audience }
                if noSecret { body["issue_secret"] = false }
                let client = try await remote.client()
                let created = try await client.call(.POST, "/v1/tenants/\(try await client.tenant())/service-accounts", json: body)
                try AccountsCommand.show(created, json: remote.json)
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account: its secrets, API tokens and access tokens are refused at once.")
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "The account's id.") var account: String

        func run() async throws { try await AccountsCommand.setStatus("disabled", of: account, remote) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account.")
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "The account's id.") var account: String

        func run() async throws { try await AccountsCommand.setStatus("active", of: account, remote) }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an account with its secrets and API tokens.")
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "The account's id.") var account: String

        func run() async throws {
            try await running {
                let client = try await remote.client()
                let base = "/v1/tenants/\(try await client.tenant())/service-accounts/\(path(account))"
                // The UUID, whichever of the account's ids was given.
                let id = try await client.object(.GET, base)["id"] as? String ?? account
                _ = try await client.call(.DELETE, base)
                if remote.json { try Output.json(["id": id, "deleted": true]) } else { print("deleted \(id)") }
            }
        }
    }

    static func setStatus(_ status: String, of account: String, _ remote: RemoteOptions) async throws {
        try await running {
            let client = try await remote.client()
            let updated = try await client.call(
                .PATCH, "/v1/tenants/\(try await client.tenant())/service-accounts/\(path(account))", json: ["status": status])
            try show(updated, json: remote.json)
        }
    }

    static func show(_ body: [UInt8], json: Bool) throws {
        if json { return Output.raw(body) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return Output.raw(body) }
        Output.fields(object, shownKeys)
        if object["client_secret"] != nil { print("The secret is shown only this once; store it now.") }
    }
}

struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "An account's client secrets, through a running server's admin API (credentials as for `tessera accounts`).",
        subcommands: [List.self, Add.self, Revoke.self, Delete.self]
    )

    static func base(_ client: AdminClient, _ account: String) async throws -> String {
        "/v1/tenants/\(try await client.tenant())/service-accounts/\(path(account))/secrets"
    }

    static func show(_ body: [UInt8], json: Bool) throws {
        if json { return Output.raw(body) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return Output.raw(body) }
        Output.fields(object, ["id", "name", "hint", "scopes", "expires_at", "last_used_at", "client_secret"])
        print("enabled: \((object["enabled"] as? Bool) == true ? "yes" : "no")")
        if object["client_secret"] != nil { print("The secret is shown only this once; store it now.") }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an account's client secrets (never their values).")
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "The account's id.") var account: String

        func run() async throws {
            try await running {
                let client = try await remote.client()
                let page = try await client.object(.GET, try await SecretsCommand.base(client, account))
                let items = page["items"] as? [[String: Any]] ?? []
                if remote.json {
                    try Output.json(["items": items])
                } else {
                    for item in items {
                        let state = (item["enabled"] as? Bool) == true ? "enabled" : "disabled"
                        print([item["id"], item["name"], item["hint"], state, item["expires_at"]].map { $0.map(Output.text) ?? "-" }.joined(separator: "  "))
                    }
                }
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a client secret; its value is printed this once.")
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "The account's id.") var account: String
        @Option(help: "Its name, unique in the account.") var name: String
        @Option(name: .customLong("expires-in-days"), help: "30, 60, 90 or 365 (default: never).") var expiresInDays: Int?
        @Option(help: "A scope it is restricted to (repeat for several; default all of the account's).") var scope: [String] = []

        func run() async throws {
            try await running {
                var body: [String: Any] = ["name": name]
                if let expiresInDays { body["expires_in_days"] = expiresInDays }
                if !scope.isEmpty { body["scopes"] = scope }
                let client = try await remote.client()
                try SecretsCommand.show(try await client.call(.POST, try await SecretsCommand.base(client, account), json: body), json: remote.json)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a secret: it is refused from now on (it stays listed, disabled).")
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "The account's id.") var account: String
        @Argument(help: "The secret's id.") var secret: String

        func run() async throws {
            try await running {
                let client = try await remote.client()
                let url = try await SecretsCommand.base(client, account) + "/" + path(secret)
                try SecretsCommand.show(try await client.call(.PATCH, url, json: ["enabled": false]), json: remote.json)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a secret.")
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "The account's id.") var account: String
        @Argument(help: "The secret's id.") var secret: String

        func run() async throws {
            try await running {
                let client = try await remote.client()
                _ = try await client.call(.DELETE, try await SecretsCommand.base(client, account) + "/" + path(secret))
                if remote.json { try Output.json(["id": secret, "deleted": true]) } else { print("deleted \(secret)") }
            }
        }
    }
}

struct RolesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roles",
        abstract: "The role catalogue, through a running server's admin API (credentials as for `tessera accounts`).",
        subcommands: [List.self, Create.self, Update.self, Delete.self]
    )

    static func show(_ body: [UInt8], json: Bool) throws {
        if json { return Output.raw(body) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return Output.raw(body) }
        Output.fields(object, ["name", "scopes", "builtin"])
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the roles and their scopes.")
        @OptionGroup var remote: RemoteOptions

        func run() async throws {
            try await running {
                let client = try await remote.client()
                let page = try await client.object(.GET, "/v1/tenants/\(try await client.tenant())/roles")
                let items = page["items"] as? [[String: Any]] ?? []
                if remote.json {
                    try Output.json(["items": items])
                } else {
                    for item in items {
                        let kind = (item["builtin"] as? Bool) == true ? "built in" : "custom"
                        print("\(item["name"].map(Output.text) ?? "-")  \(kind)  \((item["scopes"] as? [String] ?? []).joined(separator: " "))")
                    }
                }
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a custom role.")
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "Its name.") var name: String
        @Option(help: "A scope it grants (repeat for several).") var scope: [String] = []

        func run() async throws {
            try await running {
                let client = try await remote.client()
                let body = try await client.call(.POST, "/v1/tenants/\(try await client.tenant())/roles", json: ["name": name, "scopes": scope])
                try RolesCommand.show(body, json: remote.json)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace a custom role's scopes.")
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "Its name.") var name: String
        @Option(help: "A scope it grants (repeat for several).") var scope: [String] = []

        func run() async throws {
            try await running {
                let client = try await remote.client()
                let body = try await client.call(.PUT, "/v1/tenants/\(try await client.tenant())/roles/\(path(name))", json: ["scopes": scope])
                try RolesCommand.show(body, json: remote.json)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a custom role no account holds.")
        @OptionGroup var remote: RemoteOptions
        @Argument(help: "Its name.") var name: String

        func run() async throws {
            try await running {
                let client = try await remote.client()
                _ = try await client.call(.DELETE, "/v1/tenants/\(try await client.tenant())/roles/\(path(name))")
                if remote.json { try Output.json(["name": name, "deleted": true]) } else { print("deleted \(name)") }
            }
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The audit log, newest first, through a running server's admin API (credentials as for `tessera accounts`)."
    )
    @OptionGroup var remote: RemoteOptions
    @Option(help: "Only this action, e.g. service_account.update.") var action: String?
    @Option(help: "Only this actor's account id.") var actor: String?
    @Option(name: .customLong("resource-id"), help: "Only this resource.") var resourceID: String?
    @Option(help: "Only this outcome: success or failure.") var outcome: String?
    @Option(help: "At most this many events (default 50).") var limit: Int = 50

    func validate() throws {
        if let outcome, !["success", "failure"].contains(outcome) { throw ValidationError("--outcome must be success or failure") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        try await running {
            let client = try await remote.client()
            let items = try await client.items(
                "/v1/tenants/\(try await client.tenant())/audit-events",
                query: [("action", action), ("actor", actor), ("resource_id", resourceID), ("outcome", outcome)], limit: limit)
            if remote.json {
                try Output.json(["items": items])
            } else {
                Output.lines(items, ["at", "actor", "action", "resource_type", "resource_id", "outcome", "status"])
            }
        }
    }
}
