import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Cryptographically secure random bytes from the kernel's generator, read 4 KiB
/// at a time and handed out once each.
///
/// `SystemRandomNumberGenerator`, and swift-crypto's `SymmetricKey(size:)` built on
/// it, make one `getrandom` system call per eight bytes: three per token for a
/// 128-bit `jti`, about a tenth of a token's CPU. This pool reads `/dev/urandom`
/// (the same generator as `getrandom`, never blocking once the system has booted)
/// one page at a time. Bytes are served in order under a lock, each exactly once,
/// and zeroed in the buffer as they are handed out. The process never forks, so no
/// two processes can share a buffer.
///
/// Without `/dev/urandom` (a sandbox without `/dev`) every request falls back to
/// `SystemRandomNumberGenerator`: slower, equally secure.
public final class KernelRandomPool: Sendable {
    /// Bytes read from the kernel at a time.
    public static let refillSize = 4096

    private struct State: ~Copyable {
        var buffer: [UInt8]
        /// The first byte not handed out yet; `buffer.count` when empty.
        var next: Int
        /// An open `/dev/urandom`, or -1.
        let descriptor: Int32

        deinit {
            if descriptor >= 0 { _ = close(descriptor) }
        }
    }

    private let state: Mutex<State>

    /// - Parameter device: the kernel's generator; another path only in tests.
    public init(device: String = "/dev/urandom") {
        let descriptor = open(device, O_RDONLY | O_CLOEXEC)
        state = Mutex(State(buffer: [UInt8](repeating: 0, count: Self.refillSize), next: Self.refillSize, descriptor: descriptor))
    }

    /// `count` new random bytes.
    public func bytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        return state.withLock { state in
            var output: [UInt8] = []
            output.reserveCapacity(count)
            while output.count < count {
                if state.next == state.buffer.count {
                    guard Self.refill(&state.buffer, from: state.descriptor) else {
                        Self.appendSystemRandom(count - output.count, to: &output)
                        break
                    }
                    state.next = 0
                }
                let take = min(count - output.count, state.buffer.count - state.next)
                let range = state.next..<(state.next + take)
                output.append(contentsOf: state.buffer[range])
                state.buffer.withUnsafeMutableBufferPointer { buffer in
                    buffer.extracting(range).update(repeating: 0)
                }
                state.next += take
            }
            return output
        }
    }

    /// Fills `buffer` completely from `descriptor`; false when it cannot.
    private static func refill(_ buffer: inout [UInt8], from descriptor: Int32) -> Bool {
        guard descriptor >= 0 else { return false }
        return buffer.withUnsafeMutableBytes { bytes in
            var filled = 0
            while filled < bytes.count {
                let result = read(descriptor, bytes.baseAddress! + filled, bytes.count - filled)
                if result > 0 {
                    filled += result
                } else if result < 0 && errno == EINTR {
                    continue
                } else {
                    return false
                }
            }
            return true
        }
    }

    private static func appendSystemRandom(_ count: Int, to output: inout [UInt8]) {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<count { output.append(generator.next()) }
    }
}
