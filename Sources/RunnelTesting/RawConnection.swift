import NIOCore

/// A raw byte connection to a server, plain TCP or TLS, for tests that read a response as
/// it arrives, byte for byte as the server framed it (SSE, chunked encoding). Not for
/// concurrent use: one task sends and reads.
public final class RawConnection: @unchecked Sendable {
    private let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    /// Connects to `host:port`; with `trustRoot` (a PEM file) the connection is TLS with ALPN
    /// `http/1.1`, and the server's certificate must chain to that root.
    public init(host: String = "127.0.0.1", port: Int, trustRoot: String? = nil) async throws {
        channel = try await testConnection(host: host, port: port, trustRoot: trustRoot) { channel in
            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
        inbound = channel.inbound.makeAsyncIterator()
        outbound = channel.outbound
    }

    /// Sends `text` (for example a whole HTTP/1.1 request).
    public func send(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    /// Sends raw bytes (for requests that are not valid UTF-8 text).
    public func send(bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Everything received until the server closes the connection, or until `timeout` has
    /// passed (then the connection is closed and `closed` is false).
    public func readUntilClosed(timeout: Duration) async throws -> (bytes: [UInt8], closed: Bool) {
        let deadline = ContinuousClock.now + timeout
        close(after: timeout)
        var all: [UInt8] = []
        while let piece = try? await read() { all += piece }
        return (all, ContinuousClock.now < deadline)
    }

    /// The next bytes received, in the pieces the transport delivered them; nil once the
    /// connection has ended (closed by the peer, or by `close(after:)`).
    public func read() async throws -> [UInt8]? {
        try await inbound.next().map { Array($0.readableBytesView) }
    }

    /// Closes the connection after `delay` unless it ends first, so a pending `read()` cannot
    /// wait forever.
    public func close(after delay: Duration) {
        let raw = channel.channel
        raw.eventLoop.scheduleTask(in: .nanoseconds(Int64(delay / .nanoseconds(1)))) { raw.close(promise: nil) }
            .futureResult.whenFailure { _ in }
    }

    public func close() async {
        outbound.finish()
        try? await channel.channel.close()
    }

    deinit {
        // NIO requires the writer to be finished before the channel is dropped.
        outbound.finish()
    }
}
