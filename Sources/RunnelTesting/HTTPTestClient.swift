import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A minimal HTTP/1.1 keep-alive client over SwiftNIO for tests and tools: one connection,
/// one request at a time, whole responses. Real sockets, no mocks. Not for concurrent use:
/// give each concurrent task its own client (connection).
public final class HTTPTestClient: @unchecked Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        /// The first value of a header, matched case-insensitively.
        public func header(_ name: String) -> String? {
            let lower = name.lowercased()
            return headers.first { $0.name.lowercased() == lower }?.value
        }

        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public struct ClientError: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    private let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
    private var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    public let host: String
    public let port: Int

    /// Connects to `host:port`; with `trustRoot` (a PEM file) the connection is HTTPS
    /// (HTTP/1.1 by ALPN) and the server's certificate must chain to that root.
    public init(host: String = "127.0.0.1", port: Int, trustRoot: String? = nil) async throws {
        self.host = host
        self.port = port
        channel = try await testConnection(host: host, port: port, trustRoot: trustRoot) { channel in
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
        }
        inbound = channel.inbound.makeAsyncIterator()
        outbound = channel.outbound
    }

    /// Sends one request and waits for the whole response. With `timeout`, a response not
    /// complete by then closes the connection and the request fails (a hung server).
    public func request(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        timeout: Duration? = nil
    ) async throws -> Response {
        let raw = channel.channel
        let closer = timeout.map { t in
            raw.eventLoop.scheduleTask(in: .milliseconds(Int64(t / .milliseconds(1)))) { raw.close(promise: nil) }
        }
        defer { closer?.cancel() }
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
        head.headers.add(name: "Host", value: "\(host):\(port)")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let body { head.headers.replaceOrAdd(name: "Content-Length", value: String(body.count)) }
        try await outbound.write(.head(head))
        if let body, !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        try await outbound.write(.end(nil))

        var response = Response(status: 0, headers: [], body: [])
        while let part = try await inbound.next() {
            switch part {
            case .head(let h):
                response.status = Int(h.status.code)
                response.headers = h.headers.map { ($0.name, $0.value) }
            case .body(let buffer):
                response.body.append(contentsOf: buffer.readableBytesView)
            case .end:
                return response
            }
        }
        throw ClientError(description: "connection closed before the response ended")
    }

    /// Sends `GET path` and streams the response: `receive` gets each piece of the body as it
    /// arrives (chunked encoding removed) and returns false to stop reading. Returns the status
    /// and whether the body ended; a connection left mid-body cannot carry another request.
    /// With `timeout`, the connection is closed then and the call returns what it had.
    public func stream(
        _ path: String, headers: [(String, String)] = [], timeout: Duration? = nil,
        receive: (ByteBuffer) throws -> Bool
    ) async throws -> (status: Int, ended: Bool) {
        let raw = channel.channel
        let closer = timeout.map { t in
            raw.eventLoop.scheduleTask(in: .nanoseconds(Int64(t / .nanoseconds(1)))) { raw.close(promise: nil) }
        }
        defer { closer?.cancel() }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: "\(host):\(port)")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        try await outbound.write(.head(head))
        try await outbound.write(.end(nil))

        var status = 0
        do {
            while let part = try await inbound.next() {
                switch part {
                case .head(let h):
                    status = Int(h.status.code)
                case .body(let buffer):
                    if try !receive(buffer) { return (status, false) }
                case .end:
                    return (status, true)
                }
            }
        } catch where status != 0 {
            // Closed under the body (by the server, or by the timeout): report what arrived.
        }
        if status == 0 { throw ClientError(description: "connection closed before the response head") }
        return (status, false)
    }

    deinit {
        // NIO requires the writer to be finished; a client dropped without close() (e.g.
        // after a failed request) must not crash the test process.
        outbound.finish()
    }

    public func close() async {
        outbound.finish()
        try? await channel.channel.close()
    }
}

/// A loopback test connection to `host:port`: with `trustRoot` (a PEM file) it is TLS, offering
/// `applicationProtocols` by ALPN (HTTP/1.1 unless told) and trusting only that root;
/// `configure` adds the rest of the pipeline.
func testConnection<Output: Sendable>(
    host: String, port: Int, trustRoot: String?, applicationProtocols: [String] = ["http/1.1"],
    _ configure: @escaping @Sendable (any Channel) throws -> Output
) async throws -> Output {
    var sslContext: NIOSSLContext?
    if let trustRoot {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(trustRoot)
        tls.applicationProtocols = applicationProtocols
        sslContext = try NIOSSLContext(configuration: tls)
    }
    return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .connect(host: host, port: port) { [sslContext] channel in
            channel.eventLoop.makeCompletedFuture {
                if let sslContext {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: nil))
                }
                return try configure(channel)
            }
        }
}
