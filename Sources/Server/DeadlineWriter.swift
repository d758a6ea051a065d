import HTTPTypes
import Hummingbird
import NIOCore

/// A response body writer whose every write must be accepted by the transport within
/// `timeout`, for SSE (protocol §8.4).
///
/// The transport backpressures: once the connection's outbound buffer passes its high-water
/// mark, a write suspends until the peer reads. A reader that never reads would keep the
/// response's task, and the chunk it holds, suspended forever. Here a write that has not
/// completed by its deadline is cancelled and `Timeout` is thrown out of the response body,
/// which makes Hummingbird close the connection and drop what is buffered for it; the client
/// reconnects from its last `streamNextOffset`. What one slow reader can pin is therefore
/// bounded by one pending chunk plus the connection's buffers.
struct DeadlineWriter: Sendable {
    /// A write (or the end of the body) was not accepted in time.
    struct Timeout: Error, CustomStringConvertible {
        var timeout: Duration
        var description: String { "an SSE write was not accepted within \(timeout)" }
    }

    /// Carries the writer into the child task that performs the write. The writer is used by
    /// one task at a time: the caller awaits the child before touching it again.
    private final class Box: @unchecked Sendable {
        var writer: any ResponseBodyWriter
        init(_ writer: any ResponseBodyWriter) { self.writer = writer }
    }

    private let box: Box
    let timeout: Duration

    init(_ writer: any ResponseBodyWriter, timeout: Duration) {
        self.box = Box(writer)
        self.timeout = timeout
    }

    /// Writes `buffer`, or throws `Timeout` (or the transport's error) and leaves the response
    /// to be abandoned.
    func write(_ buffer: ByteBuffer) async throws {
        let box = self.box
        try await withDeadline { try await box.writer.write(buffer) }
    }

    /// Ends the body, under the same deadline.
    func finish() async throws {
        let box = self.box
        try await withDeadline { try await box.writer.finish(nil) }
    }

    /// Races `operation` against the deadline; the loser is cancelled. A cancelled transport
    /// write resumes at once with `CancellationError` (NIOAsyncWriter), so this never waits
    /// on the peer once the deadline has passed.
    private func withDeadline(_ operation: @escaping @Sendable () async throws -> Void) async throws {
        let timeout = self.timeout
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask(operation: operation)
            group.addTask {
                try await Task.sleep(for: timeout)
                throw Timeout(timeout: timeout)
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
