/// One generated fuzz case: the exact bytes to write on a fresh connection, how the answer is
/// to be read, and what the oracle may demand of it. Everything needed to replay it is here.
public struct FuzzCase: Sendable {
    /// How the bytes travel.
    public enum Transport: String, Sendable {
        /// HTTP/1.1 over plain TCP.
        case http1
        /// Hand-encoded HTTP/2 frames over TLS with ALPN `h2`.
        case http2
    }

    /// How long to wait for the answer and whether silence is a finding.
    public enum Wait: Sendable, Equatable {
        /// The request is complete: it must get `responses` answers or a close within the
        /// run's deadline; silence until then is a hang.
        case answer(responses: Int)
        /// The request is incomplete or hostile by design (truncated, a body promised but not
        /// sent, a frame the server may ignore): read what comes for `linger`, then close.
        case linger(Duration)
        /// Write and close at once (abrupt close); only liveness is checked.
        case none
    }

    /// A definite protocol violation the generator put in on purpose, which a correct server
    /// must refuse with a 4xx (api.md §1, protocol §2); a 2xx or 3xx answer is a finding.
    public struct Rejection: Sendable, Equatable {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    public var seed: UInt64
    public var index: Int
    public var transport: Transport
    /// The writes, in order; more than one when the case drips bytes out.
    public var writes: [[UInt8]]
    public var wait: Wait
    /// Request methods in order, so HEAD answers are read without a body (HTTP/1).
    public var methods: [String]
    /// HTTP/2 streams that carry a complete request (HTTP/2).
    public var streams: [UInt32]
    public var mustReject: Rejection?
    /// Whether the request addresses `/admin/...` (answers must carry no CORS headers).
    public var isAdmin: Bool
    /// 5xx statuses the RFCs recommend for this request (501 for an unknown method or transfer
    /// coding, RFC 9110 §9.1 and RFC 9112 §6.1; 505 for an unsupported version), so no finding.
    public var tolerated5xx: Set<Int>
    /// What the generator did, for reports and for grouping findings.
    public var tags: [String]

    public init(seed: UInt64, index: Int, transport: Transport, writes: [[UInt8]], wait: Wait,
                methods: [String] = [], streams: [UInt32] = [], mustReject: Rejection? = nil,
                isAdmin: Bool = false, tolerated5xx: Set<Int> = [], tags: [String]) {
        self.seed = seed
        self.index = index
        self.transport = transport
        self.writes = writes
        self.wait = wait
        self.methods = methods
        self.streams = streams
        self.mustReject = mustReject
        self.isAdmin = isAdmin
        self.tolerated5xx = tolerated5xx
        self.tags = tags
    }

    /// All bytes the case writes.
    public var bytes: [UInt8] { writes.flatMap { $0 } }

    /// The bytes as a C/shell string literal (printable ASCII as is, the rest `\xNN`, `\r` and
    /// `\n` spelled out), cut at `limit` bytes with the total noted, for a report that
    /// replays with `printf '%b' '…' | nc 127.0.0.1 PORT`.
    public func escapedBytes(limit: Int = 4096) -> String {
        let all = bytes
        var out = ""
        for byte in all.prefix(limit) {
            switch byte {
            case 0x0D: out += "\\r"
            case 0x0A: out += "\\n"
            case 0x5C: out += "\\\\"
            case 0x27: out += "\\x27"
            case 0x20...0x7E: out.append(Character(Unicode.Scalar(byte)))
            default: out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        if all.count > limit { out += "… (\(all.count) bytes in all)" }
        return out
    }

    /// `seed/index transport tags`, the line that names the case in a report.
    public var label: String { "seed=\(seed) case=\(index) \(transport.rawValue) [\(tags.joined(separator: " "))]" }
}
