import NIOCore
import Synchronization

/// One fuzz connection: raw bytes out, raw bytes in, and a deadline after which the
/// connection is closed so that no read can wait forever. Records whether the deadline, and
/// not the server, ended it. Not for concurrent use: one task sends and reads.
final class FuzzConnection: @unchecked Sendable {
    private let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let expired = Atomic<Bool>(false)
    private var closer: Scheduled<Void>?

    /// Connects to `127.0.0.1:port`; with `trustRoot` over TLS offering `alpn`.
    init(port: Int, trustRoot: String?, alpn: [String]) async throws {
        channel = try await testConnection(host: "127.0.0.1", port: port, trustRoot: trustRoot, applicationProtocols: alpn) { channel in
            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
        inbound = channel.inbound.makeAsyncIterator()
        outbound = channel.outbound
    }

    /// Closes the connection after `delay` unless it is closed first.
    func expire(after delay: Duration) {
        let raw = channel.channel
        closer = raw.eventLoop.scheduleTask(in: .nanoseconds(Int64(delay / .nanoseconds(1)))) { [weak self] in
            self?.expired.store(true, ordering: .relaxed)
            raw.close(promise: nil)
        }
    }

    /// Whether the deadline closed the connection.
    var timedOut: Bool { expired.load(ordering: .relaxed) }

    func send(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// The next bytes received; nil once the connection has ended.
    func read() async throws -> [UInt8]? {
        try await inbound.next().map { Array($0.readableBytesView) }
    }

    func close() async {
        closer?.cancel()
        outbound.finish()
        try? await channel.channel.close()
    }

    deinit {
        closer?.cancel()
        outbound.finish()
    }
}
