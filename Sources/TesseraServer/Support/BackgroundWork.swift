import Foundation
import Logging
import ServiceLifecycle
import TesseraCore

/// Long-lived work beside the HTTP server: batched `last_used_at` writes every
/// few seconds and a key-ring reload every 10 s, so a rotation done by
/// `tessera keys rotate` or another replica is picked up (DESIGN §3).
struct BackgroundWork: Service {
    let tessera: Tessera
    let logger: Logger
    var usageInterval: Duration = .seconds(5)
    var keyReloadInterval: Duration = .seconds(10)

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                await tessera.usage.run(interval: usageInterval, logger: logger)
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: keyReloadInterval)
                    if Task.isCancelled { break }
                    do {
                        try await tessera.keyRing.load(generating: nil, now: tessera.dependencies.now())
                    } catch {
                        logger.warning("could not reload signing keys", metadata: ["error": "\(error)"])
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}
