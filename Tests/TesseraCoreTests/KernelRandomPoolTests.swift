import Foundation
import TesseraCore
import Testing

@Suite struct KernelRandomPoolTests {
    @Test func servesTheDevicesBytesInOrderEachOnceAcrossDraws() throws {
        // A "device" with known bytes: 0, 1, …, 255 sixteen times (one refill).
        let known = (0..<KernelRandomPool.refillSize).map { UInt8(truncatingIfNeeded: $0) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pool-\(UUID().uuidString)")
        try Data(known).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let pool = KernelRandomPool(device: file.path)
        var drawn: [UInt8] = []
        for count in [0, 1, 16, 239, 1000, 2840] {  // 4096 in all
            let bytes = pool.bytes(count)
            #expect(bytes.count == count)
            drawn += bytes
        }
        #expect(drawn == known)
    }

    @Test func aDeviceThatRunsDryFallsBackToTheSystemGenerator() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pool-\(UUID().uuidString)")
        try Data(repeating: 7, count: 100).write(to: file)  // shorter than one refill
        defer { try? FileManager.default.removeItem(at: file) }

        let pool = KernelRandomPool(device: file.path)
        let first = pool.bytes(32), second = pool.bytes(32)
        #expect(first.count == 32 && second.count == 32)
        #expect(first != second)
        #expect(first != [UInt8](repeating: 7, count: 32))
        #expect(Set(first).count > 8)
    }

    @Test func noDeviceFallsBackToTheSystemGenerator() {
        let pool = KernelRandomPool(device: "/nonexistent/urandom")
        let draws = (0..<100).map { _ in pool.bytes(16) }
        #expect(draws.allSatisfy { $0.count == 16 })
        #expect(Set(draws).count == 100)
    }

    @Test func drawsFromTheKernelAreDistinctAndCoverEveryByteValue() {
        let pool = KernelRandomPool()
        // Three refills and more, in token-sized draws: no draw repeats, none is zeroed.
        let draws = (0..<1_000).map { _ in pool.bytes(16) }
        #expect(Set(draws).count == 1_000)
        #expect(!draws.contains([UInt8](repeating: 0, count: 16)))
        // One large draw spans several refills; 64 KiB of uniform bytes show every value
        // about 256 times (a value missing or seen 500 times is a broken pool).
        let large = pool.bytes(65_536)
        #expect(large.count == 65_536)
        var counts = [Int](repeating: 0, count: 256)
        for byte in large { counts[Int(byte)] += 1 }
        #expect(counts.min()! > 150 && counts.max()! < 370)
    }

    @Test func liveDependenciesDrawFromThePool() {
        let ids = (0..<1_000).map { _ in Dependencies.live.randomBytes(16) }
        #expect(Set(ids).count == 1_000)
        #expect(Dependencies.live.randomBytes(0).isEmpty)
        #expect(Dependencies.live.randomBytes(32).count == 32)
    }
}
