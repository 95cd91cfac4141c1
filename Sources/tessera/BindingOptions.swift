import ArgumentParser
import Dispatch
import Foundation
import Logging
import NIOCertificateReloading
import NIOCore
import NIOSSL
import ServiceLifecycle
import TesseraServer

/// `serve`'s options for native TLS, client certificates, trusted proxies and DPoP
/// (docs/binding.md).
struct BindingOptions: ParsableArguments {
    @Option(name: .customLong("tls-cert"), help: "PEM file with the server certificate and any intermediates: serve HTTPS (env TESSERA_TLS_CERT).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM file with the certificate's private key (env TESSERA_TLS_KEY).")
    var tlsKey: String?

    @Option(
        name: .customLong("tls-client-ca"),
        help: "PEM file with the CAs that issue client certificates for tls_client_auth; asks clients for certificates, optionally (env TESSERA_TLS_CLIENT_CA)."
    )
    var tlsClientCA: String?

    @Option(
        name: .customLong("tls-reload-interval"),
        help: "Seconds between reads of the certificate and key files; SIGHUP reads them at once (env TESSERA_TLS_RELOAD_INTERVAL; default 5).")
    var tlsReloadInterval: Int?

    @Option(
        name: .customLong("trusted-proxy"),
        help: "Address or CIDR range of a proxy whose forwarded client address is believed; repeatable (env TESSERA_TRUSTED_PROXIES, comma-separated).")
    var trustedProxies: [String] = []

    @Option(
        name: .customLong("forwarded-header"),
        help: "The header trusted proxies set the client address in: x-forwarded-for or forwarded (env TESSERA_FORWARDED_HEADER; default x-forwarded-for).")
    var forwardedHeader: String?

    @Option(
        name: .customLong("client-cert-proxy"),
        help:
            "Address or CIDR range of a TLS-terminating proxy whose Client-Cert header is believed; it must replace any Client-Cert a client sends. Repeatable (env TESSERA_CLIENT_CERT_PROXIES, comma-separated)."
    )
    var clientCertProxies: [String] = []

    @Flag(name: .customLong("dpop-nonce"), help: "Require DPoP proofs to carry a nonce of this server's (env TESSERA_DPOP_NONCE=1).")
    var dpopNonce = false

    @Option(name: .customLong("dpop-proof-max-age"), help: "Seconds a DPoP proof stays acceptable after its iat (env TESSERA_DPOP_PROOF_MAX_AGE; default 300).")
    var dpopProofMaxAge: Int?

    var certificatePath: String? { tlsCert ?? Env.value("TESSERA_TLS_CERT") }
    var keyPath: String? { tlsKey ?? Env.value("TESSERA_TLS_KEY") }
    var clientCAPath: String? { tlsClientCA ?? Env.value("TESSERA_TLS_CLIENT_CA") }
    var reloadInterval: Int { tlsReloadInterval ?? Env.value("TESSERA_TLS_RELOAD_INTERVAL").flatMap(Int.init) ?? 5 }
    var proxies: [String] { Self.list(trustedProxies, "TESSERA_TRUSTED_PROXIES") }
    var certificateProxies: [String] { Self.list(clientCertProxies, "TESSERA_CLIENT_CERT_PROXIES") }

    private static func list(_ values: [String], _ variable: String) -> [String] {
        if !values.isEmpty { return values }
        return Env.value(variable).map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
    }

    /// The proxies whose forwarded address is believed, reading the chosen header.
    func trusted() throws -> TrustedProxies {
        let name = (forwardedHeader ?? Env.value("TESSERA_FORWARDED_HEADER") ?? "x-forwarded-for").lowercased()
        guard let header = TrustedProxies.Header(rawValue: name) else {
            throw ValidationError("--forwarded-header must be x-forwarded-for or forwarded, not \"\(name)\"")
        }
        do {
            return try TrustedProxies(proxies, header: header)
        } catch {
            throw ValidationError("--trusted-proxy: \(error.description)")
        }
    }
    var nonces: Bool { dpopNonce || Env.value("TESSERA_DPOP_NONCE") == "1" }
    var proofMaxAge: Int { dpopProofMaxAge ?? Env.value("TESSERA_DPOP_PROOF_MAX_AGE").flatMap(Int.init) ?? 300 }

    func validate() throws {
        guard (certificatePath == nil) == (keyPath == nil) else { throw ValidationError("give both --tls-cert and --tls-key, or neither") }
        if clientCAPath != nil, certificatePath == nil, certificateProxies.isEmpty {
            throw ValidationError("--tls-client-ca needs --tls-cert (certificates from the handshake) or --client-cert-proxy (from Client-Cert)")
        }
        guard (1...86_400).contains(reloadInterval) else { throw ValidationError("--tls-reload-interval must be 1–86400 seconds") }
        guard (10...3_600).contains(proofMaxAge) else { throw ValidationError("--dpop-proof-max-age must be 10–3600 seconds") }
        _ = try trusted()
        do {
            _ = try TrustedProxies(certificateProxies)
        } catch {
            throw ValidationError("--client-cert-proxy: \(error.description)")
        }
    }

    /// Where client certificates come from: the handshake when TLS is on with
    /// `--tls-client-ca`, a certificate proxy's `Client-Cert` whenever one is listed.
    func clientCertificates() throws -> ClientCertificates {
        let pem: String?
        if let path = clientCAPath {
            do {
                pem = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ValidationError("--tls-client-ca: cannot read \(path)")
            }
        } else {
            pem = nil
        }
        do {
            return try ClientCertificates(
                authoritiesPEM: pem, fromHandshake: certificatePath != nil && pem != nil, certificateProxies: try TrustedProxies(certificateProxies))
        } catch let error as TrustedProxies.Invalid {
            throw ValidationError("--client-cert-proxy: \(error.description)")
        } catch {
            throw ValidationError("--tls-client-ca: \(clientCAPath ?? "") holds no PEM certificate Tessera can read")
        }
    }

    /// The TLS configuration, with a reloader that reads the files every
    /// `--tls-reload-interval` seconds and on SIGHUP; `nil` without TLS. A file that
    /// cannot be read stops the start here, naming it.
    func tls(logger: Logger) throws -> (TLSConfiguration, TLSReloading)? {
        guard let certificatePath, let keyPath else { return nil }
        for (path, option) in [(certificatePath, "--tls-cert"), (keyPath, "--tls-key")] where !FileManager.default.isReadableFile(atPath: path) {
            throw ValidationError("\(option): cannot read \(path)")
        }
        let reloader: TimedCertificateReloader
        do {
            reloader = try TimedCertificateReloader.makeReloaderValidatingSources(
                refreshInterval: .seconds(reloadInterval),
                certificateSource: .init(location: .file(path: certificatePath), format: .pem),
                privateKeySource: .init(location: .file(path: keyPath), format: .pem),
                logger: logger
            )
        } catch {
            throw ValidationError("--tls-cert/--tls-key: \(certificatePath) and \(keyPath) are not a PEM certificate and its private key (\(error))")
        }
        var configuration = try TLSConfiguration.makeServerConfiguration(certificateReloader: reloader)
        configuration.minimumTLSVersion = .tlsv12
        return (configuration, TLSReloading(reloader: reloader, logger: logger))
    }
}

/// Reads the TLS certificate and key again every interval and on SIGHUP, while the
/// server runs; new handshakes use what was read last, open connections keep theirs.
struct TLSReloading: Service {
    let reloader: TimedCertificateReloader
    let logger: Logger

    func run() async throws {
        // SIGHUP is taken from its default action (ending the process) and delivered here.
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let (hangups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        source.setEventHandler { continuation.yield() }
        source.resume()
        defer { source.cancel() }
        await withDiscardingTaskGroup { group in
            group.addTask { try? await reloader.run() }
            group.addTask {
                for await _ in hangups {
                    do {
                        try reloader.reload()
                        logger.info("SIGHUP: the TLS certificate and key were read again")
                    } catch {
                        logger.error("SIGHUP: the TLS certificate and key could not be read; the last good pair stays in use", metadata: ["error": "\(error)"])
                    }
                }
            }
            try? await gracefulShutdown()
            continuation.finish()
            group.cancelAll()
        }
    }
}
