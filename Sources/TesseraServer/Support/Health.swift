import Hummingbird
import TesseraCore

/// `GET /health/alive` and `GET /health/ready` (docs/ARCHITECTURE.md §3).
struct Health: Sendable {
    let tessera: Tessera

    private struct Status: Encodable {
        let status: String
        let checks: [String: String]?
    }

    func alive(_ request: Request, context: some RequestContext) -> Response {
        .json(Status(status: "ok", checks: nil))
    }

    /// Ready when the store answers and a signing key is loaded.
    func ready(_ request: Request, context: some RequestContext) async -> Response {
        var checks: [String: String] = [:]
        do {
            try await tessera.storage.ping()
            checks["store"] = "ok"
        } catch {
            checks["store"] = "unavailable"
        }
        checks["signing_key"] = tessera.keyRing.snapshot == nil ? "missing" : "ok"
        let ready = checks.values.allSatisfy { $0 == "ok" }
        return .json(Status(status: ready ? "ok" : "unavailable", checks: checks), status: ready ? .ok : .serviceUnavailable)
    }
}
