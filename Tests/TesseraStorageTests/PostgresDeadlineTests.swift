import Foundation
import Synchronization
import TesseraCore
import TesseraJOSE
import Testing

@testable import TesseraPostgres

/// The per-call deadline answers the caller even when the work ignores its
/// cancellation (a query sent as the server stops can wait on a connection that
/// never answers): the request must not hang, nor a shutdown wait for it.
@Suite struct PostgresDeadlineTests {
    @Test func workThatIgnoresCancellationIsAbandonedAtTheDeadline() async throws {
        let started = ContinuousClock.now
        await #expect(throws: StoreError.unavailable("PostgreSQL did not answer within 0.2 seconds")) {
            try await PostgresStorage.bounded(deadline: .milliseconds(200)) {
                // Deaf to cancellation: resumes only after 60 s, whatever happens.
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                    DispatchQueue.global().asyncAfter(deadline: .now() + 60) { continuation.resume() }
                }
                return 1
            }
        }
        // Far below the 60 s the work takes, with room for a loaded 2-core machine.
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func anAnswerBeforeTheDeadlineIsReturnedAndErrorsPassThrough() async throws {
        #expect(try await PostgresStorage.bounded(deadline: .seconds(5)) { 42 } == 42)
        await #expect(throws: StoreError.conflict("taken")) {
            try await PostgresStorage.bounded(deadline: .seconds(5)) { () async throws -> Int in throw StoreError.conflict("taken") }
        }
    }
}
