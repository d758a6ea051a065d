import BinaryCodec
import StreamModel

/// The column families of a node's database and the layout of their keys (design.md
/// "Storage layout"). All integers are big-endian (`BigEndian`) so keys sort numerically.
enum CF {
    static let raftLog = "raft_log"
    static let raftState = "raft_state"
    static let meta = "meta"
    static let payloads = "payloads"
    static let all = [raftLog, raftState, meta, payloads]
}

enum Keys {
    // raft_log: the entry's index.
    static func logIndex(_ index: UInt64) -> [UInt8] { BigEndian.bytes(index) }

    // raft_state: fixed keys.
    static let hardState: [UInt8] = Array("hard_state".utf8)
    static let nodeIdentity: [UInt8] = Array("node_identity".utf8)
    static let snapshot: [UInt8] = Array("snapshot".utf8)
    static let peerAddresses: [UInt8] = Array("peer_addresses".utf8)

    // meta: tagged by a leading byte.
    static let appliedIndex: [UInt8] = [0x01]
    static let nextStreamID: [UInt8] = [0x02]
    static let bucketPrefix: [UInt8] = [0x03]
    static let streamPrefix: [UInt8] = [0x04]
    static let producerPrefix: [UInt8] = [0x05]
    // Stream snapshots (docs/stream-snapshots.md): a row per snapshot, a row per upload in
    // progress, and the bytes of both as chunks of a blob. Not loaded into memory but the rows.
    static let snapshotPrefix: [UInt8] = [0x06]
    static let uploadPrefix: [UInt8] = [0x07]
    static let blobPrefix: [UInt8] = [0x08]
    static let nextBlobID: [UInt8] = [0x09]
    /// `0x0A ‖ key id`: API keys (docs/access-control.md).
    static let apiKeyPrefix: [UInt8] = [0x0A]
    static func apiKey(_ id: String) -> [UInt8] { apiKeyPrefix + Array(id.utf8) }

    static func bucket(_ name: String) -> [UInt8] { bucketPrefix + Array(name.utf8) }

    /// Stream rows sort by bucket, then name, so a bucket's streams list in name order.
    static func stream(_ path: StreamPath) -> [UInt8] { streamsOfBucket(path.bucket) + Array(path.name.utf8) }

    static func streamsOfBucket(_ bucket: String) -> [UInt8] { streamPrefix + Array(bucket.utf8) + [0x00] }

    /// A producer's row: `0x05 ‖ stream incarnation ‖ producer id bytes`, so an incarnation's
    /// producers are one range (deleted with it) and an append rewrites only its producer.
    static func producer(_ streamID: UInt64, _ id: ProducerID) -> [UInt8] {
        producers(of: streamID) + Array(id.value.utf8)
    }
    static func producers(of streamID: UInt64) -> [UInt8] { producerPrefix + BigEndian.bytes(streamID) }
    /// The end of an incarnation's producer rows: the next incarnation's prefix.
    static func producersEnd(of streamID: UInt64) -> [UInt8] {
        streamID == .max ? producerPrefix + BigEndian.bytes(streamID) + [0xFF] : producers(of: streamID + 1)
    }

    /// `0x06 ‖ stream incarnation ‖ offset`: an incarnation's snapshots are one range, in
    /// offset order.
    static func snapshot(_ streamID: UInt64, _ offset: Offset) -> [UInt8] {
        snapshots(of: streamID) + BigEndian.bytes(offset.epoch) + BigEndian.bytes(offset.position)
    }
    static func snapshots(of streamID: UInt64) -> [UInt8] { snapshotPrefix + BigEndian.bytes(streamID) }
    static func snapshotsEnd(of streamID: UInt64) -> [UInt8] {
        streamID == .max ? snapshotPrefix + BigEndian.bytes(streamID) + [0xFF] : snapshots(of: streamID + 1)
    }
    static func upload(_ blobID: UInt64) -> [UInt8] { uploadPrefix + BigEndian.bytes(blobID) }
    /// `0x08 ‖ blob ‖ chunk index`
    static func blobChunk(_ blobID: UInt64, _ index: UInt32) -> [UInt8] { blob(blobID) + BigEndian.bytes(index) }
    static func blob(_ blobID: UInt64) -> [UInt8] { blobPrefix + BigEndian.bytes(blobID) }
    static func blobEnd(_ blobID: UInt64) -> [UInt8] {
        blobID == .max ? blobPrefix + BigEndian.bytes(blobID) + [0xFF] : blob(blobID + 1)
    }

    // payloads: stream incarnation ‖ position.
    static func unit(_ streamID: UInt64, _ position: UInt64) -> [UInt8] { BigEndian.bytes(streamID) + BigEndian.bytes(position) }
    static func units(of streamID: UInt64) -> [UInt8] { BigEndian.bytes(streamID) }
    /// The end of an incarnation's units: the next incarnation's prefix (checked at the top id).
    static func unitsEnd(of streamID: UInt64) -> [UInt8] {
        streamID == .max ? BigEndian.bytes(streamID) + [UInt8](repeating: 0xFF, count: 9) : BigEndian.bytes(streamID + 1)
    }
}

extension Keys {
    /// The big-endian id or index at `offset` of a stored key or value (an array or a raw
    /// RocksDB buffer); too few bytes means the data is damaged.
    static func uint64<Bytes: RandomAccessCollection<UInt8>>(
        _ bytes: Bytes, at offset: Int = 0
    ) throws(StorageError) -> UInt64 where Bytes.Index == Int {
        do { return try BigEndian.read(UInt64.self, from: bytes, at: offset) } catch { throw StorageError(error, "stored integer") }
    }
}

extension Keys {
    // raft_state: the cluster this node belongs to, this data directory's incarnation, and
    // whether the node is a member yet (docs/state-transfer.md §5).
    static let clusterIdentity: [UInt8] = Array("cluster_identity".utf8)
    static let admission: [UInt8] = Array("admission".utf8)
    // raft_state: the redo marker of a snapshot install in progress (docs/state-transfer.md §3).
    static let installMarker: [UInt8] = Array("installing".utf8)
}
