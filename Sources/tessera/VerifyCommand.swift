import ArgumentParser
import Foundation
import TesseraVerifier

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify an access token against the issuer's published keys.",
        discussion: """
            Uses the TesseraVerifier library: discovers the JWKS, checks the signature, typ, iss, aud, exp, nbf and iat. \
            Prints the verified claims as JSON and exits 0, or prints the reason for rejection and exits 1.
            """
    )

    @Option(help: "Issuer URL the token must come from, e.g. http://127.0.0.1:8080.")
    var issuer: String

    @Option(help: "Audience the token must carry (default: the issuer URL, Tessera's default audience).")
    var audience: String?

    @Option(help: "Scopes the token must hold, space-separated.")
    var requireScope: String?

    @Argument(help: "The access token.")
    var token: String

    func run() async throws {
        let trimmed = TokenVerifier.normalizeIssuer(issuer)
        let verifier = TokenVerifier(issuer: trimmed, audience: audience ?? trimmed)
        do {
            let verified = try await verifier.verify(token)
            if let requireScope {
                try verified.require(scopes: Set(requireScope.split(separator: " ").map(String.init)))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(verified.claims), as: UTF8.self))
        } catch let error as TokenVerificationError {
            var standardError = FileHandle.standardError
            print("rejected: \(error)", to: &standardError)
            throw ExitCode.failure
        }
    }
}

extension FileHandle: @retroactive TextOutputStream {
    public func write(_ string: String) {
        write(Data(string.utf8))
    }
}
