/// A chunk of the snapshot file the leader's driver reads and sends (paper §7, InstallSnapshot
/// with `offset` and `done`). The core decides what to send and when (one chunk in flight per
/// follower); the driver holds the bytes.
public struct SnapshotChunkRead: Sendable, Hashable {
    /// The follower to send the chunk to.
    public var to: NodeID
    /// The snapshot whose file to read.
    public var metadata: SnapshotMetadata
    /// Size of the whole snapshot file.
    public var totalBytes: UInt64
    /// First byte of the chunk in the file.
    public var offset: UInt64
    /// Bytes to read (up to ``RaftConfiguration/snapshotChunkBytes``; 0 for an empty file).
    public var length: Int
    /// The chunk ends the file.
    public var done: Bool
    /// The leader term the chunk was decided in: a chunk read after leadership moved on is not sent.
    public var term: UInt64

    public init(to: NodeID, metadata: SnapshotMetadata, totalBytes: UInt64, offset: UInt64, length: Int,
                done: Bool, term: UInt64) {
        self.to = to
        self.metadata = metadata
        self.totalBytes = totalBytes
        self.offset = offset
        self.length = length
        self.done = done
        self.term = term
    }
}

/// A snapshot chunk a follower accepted (it continues the transfer at the byte expected next).
/// The driver appends `data` to the transfer's staging file (a file per `metadata`, from byte
/// 0 when `offset` is 0) in the persist step of the `Ready` that carries it.
public struct ReceivedSnapshotChunk: Sendable, Hashable {
    /// The leader sending the snapshot.
    public var from: NodeID
    public var metadata: SnapshotMetadata
    /// Size of the whole snapshot file.
    public var totalBytes: UInt64
    /// Position of `data` in the file: the staging file's size before this chunk.
    public var offset: UInt64
    public var data: [UInt8]
    /// The last chunk: after it is durable, verify the file and call
    /// ``RaftNode/snapshotReceived(metadata:valid:)``.
    public var done: Bool

    public init(from: NodeID, metadata: SnapshotMetadata, totalBytes: UInt64, offset: UInt64, data: [UInt8], done: Bool) {
        self.from = from
        self.metadata = metadata
        self.totalBytes = totalBytes
        self.offset = offset
        self.data = data
        self.done = done
    }
}
