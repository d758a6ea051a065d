import HTTPTypes

/// Header names of the Durable Streams protocol (protocol §2) and its extensions.
extension HTTPField.Name {
    static let streamNextOffset = HTTPField.Name("Stream-Next-Offset")!
    static let streamUpToDate = HTTPField.Name("Stream-Up-To-Date")!
    static let streamClosed = HTTPField.Name("Stream-Closed")!
    static let streamCursor = HTTPField.Name("Stream-Cursor")!
    static let streamTTL = HTTPField.Name("Stream-TTL")!
    static let streamExpiresAt = HTTPField.Name("Stream-Expires-At")!
    static let streamSeq = HTTPField.Name("Stream-Seq")!
    static let streamForkedFrom = HTTPField.Name("Stream-Forked-From")!
    static let streamForkOffset = HTTPField.Name("Stream-Fork-Offset")!
    static let streamForkSubOffset = HTTPField.Name("Stream-Fork-Sub-Offset")!
    static let streamSSEDataEncoding = HTTPField.Name("Stream-SSE-Data-Encoding")!
    static let producerId = HTTPField.Name("Producer-Id")!
    static let producerEpoch = HTTPField.Name("Producer-Epoch")!
    static let producerSeq = HTTPField.Name("Producer-Seq")!
    static let producerExpectedSeq = HTTPField.Name("Producer-Expected-Seq")!
    static let producerReceivedSeq = HTTPField.Name("Producer-Received-Seq")!
    static let crossOriginResourcePolicy = HTTPField.Name("Cross-Origin-Resource-Policy")!
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let accessControlAllowOrigin = HTTPField.Name("Access-Control-Allow-Origin")!
    static let accessControlAllowMethods = HTTPField.Name("Access-Control-Allow-Methods")!
    static let accessControlAllowHeaders = HTTPField.Name("Access-Control-Allow-Headers")!
    static let accessControlExposeHeaders = HTTPField.Name("Access-Control-Expose-Headers")!
    static let retryAfter = HTTPField.Name("Retry-After")!
    // Stream snapshots and retention (api.md §2, docs/stream-snapshots.md).
    static let streamSnapshotOffset = HTTPField.Name("Stream-Snapshot-Offset")!
    static let streamSnapshotDigest = HTTPField.Name("Stream-Snapshot-Digest")!
    static let streamSnapshotMatch = HTTPField.Name("Stream-Snapshot-Match")!
    static let streamRetainedOffset = HTTPField.Name("Stream-Retained-Offset")!
    static let streamRetention = HTTPField.Name("Stream-Retention")!
    static let link = HTTPField.Name("Link")!
}

extension HTTPFields {
    /// Headers every response carries: browser hardening (protocol §2.2, §13).
    static let standard: HTTPFields = {
        var fields = HTTPFields()
        fields[.xContentTypeOptions] = "nosniff"
        return fields
    }()

    /// The CORS headers of the stream API's responses (protocol §2.2); never on admin or
    /// operational routes (api.md §3).
    static let crossOrigin: HTTPFields = {
        var fields = HTTPFields()
        fields[.accessControlAllowOrigin] = "*"
        fields[.accessControlExposeHeaders] =
            "Stream-Next-Offset, Stream-Cursor, Stream-Up-To-Date, Stream-Closed, Stream-Snapshot-Offset, Stream-Snapshot-Digest, Stream-Retained-Offset, Stream-Retention, Link, Producer-Epoch, Producer-Seq, Producer-Expected-Seq, Producer-Received-Seq, ETag, Content-Type, Content-Encoding, Vary"
        return fields
    }()

    /// The value of a header that must appear at most once; `.repeated` if it appears twice.
    func single(_ name: HTTPField.Name) -> SingleHeader {
        let values = self[values: name]
        switch values.count {
        case 0: return .absent
        case 1: return .value(values[0])
        default: return .repeated
        }
    }
}

enum SingleHeader {
    case absent
    case value(String)
    case repeated
}

/// Checks of header text that came from a client.
enum HeaderText {
    /// Whether `value` is clean text: no U+FFFD (what the HTTP/1.1 parser and HTTPTypes put in
    /// place of bytes that are not UTF-8, so a client's invalid UTF-8 is caught here) and no
    /// control characters.
    static func isClean(_ value: String) -> Bool {
        !value.unicodeScalars.contains { $0 == "\u{FFFD}" || $0.value < 0x20 || $0.value == 0x7F }
    }
}
