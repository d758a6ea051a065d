import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// A response body writer whose every write must be accepted by the transport within
/// `timeout`, for SSE (protocol §8.4).
///
/// The transport backpressures: once the connection's outbound buffer passes its high-water
/// mark, a write suspends until the peer reads. A reader that never reads would keep the
/// response's task, and the chunk it holds, suspended forever. `guarding` runs the session
/// beside a watchdog that throws `Timeout` once a write has been pending longer than
/// `timeout`; the session is then cancelled (a cancelled transport write resumes at once with
/// `CancellationError`, NIOAsyncWriter), and `Timeout` thrown out of the response body makes
/// Hummingbird close the connection and drop what is buffered for it; the client reconnects
/// from its last `streamNextOffset`. What one slow reader can pin is therefore bounded by one
/// pending chunk plus the connection's buffers.
///
/// One watchdog per session, waking every quarter of the timeout, rather than a timer task per
/// write: a fan-out to many readers writes to every one of them on every append. A stuck
/// write is abandoned between `timeout` and 1.25 × `timeout` after it started.
struct DeadlineWriter: Sendable {
    /// A write (or the end of the body) was not accepted in time.
    struct Timeout: Error, CustomStringConvertible {
        var timeout: Duration
        var description: String { "an SSE write was not accepted within \(timeout)" }
    }

    /// Carries the writer into the session's task (which alone uses it) and, for the
    /// watchdog, when the write in progress started (nil between writes).
    private final class Box: @unchecked Sendable {
        var writer: any ResponseBodyWriter
        let pendingSince = Mutex<ContinuousClock.Instant?>(nil)
        init(_ writer: any ResponseBodyWriter) { self.writer = writer }
    }

    private let box: Box
    let timeout: Duration

    init(_ writer: any ResponseBodyWriter, timeout: Duration) {
        self.box = Box(writer)
        self.timeout = timeout
    }

    /// Writes `buffer`; under `guarding`, a write still pending after `timeout` is cancelled.
    func write(_ buffer: ByteBuffer) async throws {
        try await pending { try await box.writer.write(buffer) }
    }

    /// Writes `epilogue` (if any) and ends the body, under the same deadline.
    func finish(_ epilogue: ByteBuffer? = nil) async throws {
        if let epilogue { try await write(epilogue) }
        try await pending { try await box.writer.finish(nil) }
    }

    private func pending(_ operation: () async throws -> Void) async throws {
        box.pendingSince.withLock { $0 = .now }
        defer { box.pendingSince.withLock { $0 = nil } }
        try await operation()
    }

    /// Runs `session` (which writes through this writer) and a watchdog beside it: the first
    /// to end decides. A stuck write makes this throw `Timeout` after cancelling `session`.
    func guarding(_ session: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask(operation: session)
            group.addTask { try await watch() }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func watch() async throws {
        while true {
            try await Task.sleep(for: timeout / 4)
            if let since = box.pendingSince.withLock({ $0 }), ContinuousClock.now - since >= timeout {
                throw Timeout(timeout: timeout)
            }
        }
    }
}
