/// An application snapshot of a stream's state at a message boundary (api.md §2,
/// docs/stream-snapshots.md): opaque bytes the application publishes so that a new reader
/// starts from it instead of replaying every message before it.
public struct StreamSnapshot: Hashable, Sendable {
    /// The message boundary the snapshot describes: messages at and after it are not in it.
    public var offset: Offset
    /// SHA-256 of the bytes (computed by the proposer; 32 bytes).
    public var digest: [UInt8]
    /// The Content-Type the snapshot was published with.
    public var contentType: String
    public var size: UInt64
    /// Where the bytes are stored: the chunks of blob `blobID` (0 for an empty snapshot).
    public var blobID: UInt64
    public var chunkCount: UInt32
    public var publishedAt: Int64

    public init(offset: Offset, digest: [UInt8], contentType: String, size: UInt64, blobID: UInt64,
                chunkCount: UInt32, publishedAt: Int64) {
        self.offset = offset
        self.digest = digest
        self.contentType = contentType
        self.size = size
        self.blobID = blobID
        self.chunkCount = chunkCount
        self.publishedAt = publishedAt
    }

    /// The digest as the `Stream-Snapshot-Digest` header carries it: 64 lowercase hex digits.
    public var digestHex: String { SnapshotDigest.hex(digest) }
}

/// The chunks of a snapshot being uploaded: each chunk is one log entry, so no entry grows
/// past `SnapshotLimits.maxChunkBytes` however large the snapshot. Once published, the blob
/// belongs to the snapshot; an upload never published is dropped after
/// `SnapshotLimits.uploadExpiryMilliseconds`.
public struct SnapshotUpload: Hashable, Sendable {
    /// The stream incarnation the upload is for.
    public var streamID: UInt64
    public var chunkCount: UInt32
    public var size: UInt64
    public var startedAt: Int64

    public init(streamID: UInt64, chunkCount: UInt32, size: UInt64, startedAt: Int64) {
        self.streamID = streamID
        self.chunkCount = chunkCount
        self.size = size
        self.startedAt = startedAt
    }
}

/// Bounds on stream snapshots: constants of the replicated state machine (every replica must
/// decide alike), documented in docs/stream-snapshots.md.
public enum SnapshotLimits {
    /// Bytes per chunk entry the proposer sends (the model accepts up to `maxChunkBytes`).
    public static let chunkBytes = 1 << 20
    public static let maxChunkBytes = 4 << 20
    /// The largest snapshot (the HTTP body limit is usually the tighter bound).
    public static let maxBytes: UInt64 = 1 << 30
    /// Snapshots kept per stream: publishing one more drops the oldest.
    public static let maxPerStream = 16
    /// Uploads in progress per stream.
    public static let maxUploadsPerStream = 4
    /// An upload not published within this long is dropped (1 hour).
    public static let uploadExpiryMilliseconds: Int64 = 3600 * 1000
}

/// SHA-256 digests as headers spell them.
public enum SnapshotDigest {
    public static let byteCount = 32

    public static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(digest.count * 2)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses 64 hex digits (either case); `nil` for anything else.
    public static func parse(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count == byteCount * 2 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(byteCount)
        var i = 0
        while i < utf8.count {
            guard let h = nibble(utf8[i]), let l = nibble(utf8[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }

    private static func nibble(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
