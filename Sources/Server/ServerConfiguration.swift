/// Configuration of the HTTP layer. Filled by the executable from flags and `RUNNEL_*`.
public struct ServerConfiguration: Sendable {
    /// Host and port to listen on.
    public var host: String = "127.0.0.1"
    public var port: Int = 4437
    /// Request bodies above this many bytes get 413 without being buffered whole.
    public var maxBodyBytes: Int = 64 << 20
    /// The largest `maxBodyBytes` a node accepts: an append travels between nodes as one
    /// command, and the peer transport's frames are sized for a body up to this.
    public static let largestBodyLimit = 64 << 20
    /// A catch-up read returns at most about this many bytes; the client continues from
    /// `Stream-Next-Offset` (no `Stream-Up-To-Date` on a partial chunk).
    public var readChunkBytes: Int = 4 << 20
    /// How long a long-poll read waits for data before answering 204.
    public var longPollTimeout: Duration = .seconds(30)
    /// SSE connections are closed after about this long so CDNs can collapse readers; the
    /// client reconnects from its last offset (protocol §8.4).
    public var sseSessionDuration: Duration = .seconds(60)
    /// An SSE write the transport has not accepted within this long (the reader is not
    /// reading its socket) closes the connection, which releases the reader's task and
    /// buffers; the client resumes from its last `streamNextOffset` (protocol §8.4).
    public var sseWriteTimeout: Duration = .seconds(10)

    /// Once the first byte of a request arrives, its head (request line and headers) must be
    /// complete within this long, or the connection is closed (slowloris).
    public var headerReadTimeout: Duration = .seconds(10)
    /// An HTTP/1.1 connection with no request in progress (idle keep-alive, or a client that
    /// stops sending a body) is closed after this long. A live read that is waiting for data
    /// is a request in progress, not idle.
    public var idleTimeout: Duration = .seconds(60)
    /// A TLS handshake (from accepting the connection) must complete within this long.
    public var tlsHandshakeTimeout: Duration = .seconds(10)
    /// An HTTP/2 connection with no open stream is closed after this long.
    public var http2IdleTimeout: Duration = .seconds(60)
    /// Connections open at once; one more is closed as soon as it is accepted.
    public var maxConnections: Int = 10_000

    /// PEM certificate chain and private key: when both are set the listener serves HTTPS,
    /// HTTP/2 and HTTP/1.1 negotiated by ALPN.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?

    /// Credentials and scopes (docs/access-control.md); off unless a credential is configured.
    public var access = AccessConfiguration()
    /// Origins a browser page may call the stream API from (`--cors-origins`); nil allows any
    /// (`Access-Control-Allow-Origin: *`). Admin and operational routes never allow any.
    public var corsOrigins: Set<String>?
    /// Appends on HTTP/1.1 are answered on the event loop without a task (`AppendFastPath`,
    /// docs/hot-path.md; `--fast-appends false`, `RUNNEL_FAST_APPENDS=0` turns it off).
    public var fastAppends = true
    /// SSE readers at their stream's tail are written to from the event loop, one encoding per
    /// batch shared by all of them (`SSEFanout`, docs/hot-path.md; `--sse-fanout false` turns
    /// it off, for comparison).
    public var sseFanout = true

    public init() {}
}
