/// Why the state machine rejected a command. Every rejection carries a stable `code`
/// (the string clients see in `{"error":{"code":…}}`) and the details the protocol
/// requires on that response (the tail and closure on 409, the current epoch on 403, …).
///
/// HTTP status mapping lives in the HTTP layer, not here.
public struct ModelError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable machine-readable reason. A struct over a private enum so it can grow.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable {
            case bucketNotFound = "bucket_not_found"
            case bucketNotEmpty = "bucket_not_empty"
            case invalidBucket = "invalid_bucket"
            case streamNotFound = "stream_not_found"
            case streamGone = "stream_gone"
            case streamClosed = "stream_closed"
            case configMismatch = "stream_exists_with_different_config"
            case contentTypeMismatch = "content_type_mismatch"
            case streamSeqConflict = "stream_seq_conflict"
            case producerStaleEpoch = "producer_stale_epoch"
            case producerSeqGap = "producer_seq_gap"
            case producerEpochSeq = "producer_new_epoch_requires_seq_zero"
            case emptyBody = "empty_body"
            case emptyJSONArray = "empty_json_array"
            case invalidJSON = "invalid_json"
            case forkSourceNotFound = "fork_source_not_found"
            case forkSourceGone = "fork_source_deleted"
            case forkSourceChanged = "fork_source_changed"
            case forkOffsetInvalid = "invalid_fork_offset"
            case forkSubOffsetInvalid = "invalid_fork_sub_offset"
            case preconditionFailed = "precondition_failed"
            case offsetGone = "offset_gone"
            case snapshotNotFound = "snapshot_not_found"
            case snapshotConflict = "snapshot_conflict"
            case snapshotTooLarge = "snapshot_too_large"
            case snapshotBeyondTail = "snapshot_offset_beyond_tail"
            case snapshotIsLatest = "snapshot_is_latest"
            case retentionBeyondSnapshot = "retention_beyond_snapshot"
            case keyExists = "key_exists"
            case keyNotFound = "key_not_found"
            case invalidCommand = "invalid_command"
            case invalidProducerID = "invalid_producer_id"
            case producerLimit = "producer_limit_exceeded"
            case capacityExhausted = "capacity_exhausted"
            case bucketQuotaExceeded = "bucket_quota_exceeded"
        }
        fileprivate let value: Value
        public var description: String { value.rawValue }

        public static let bucketNotFound = Code(value: .bucketNotFound)
        public static let bucketNotEmpty = Code(value: .bucketNotEmpty)
        public static let invalidBucket = Code(value: .invalidBucket)
        public static let streamNotFound = Code(value: .streamNotFound)
        public static let streamGone = Code(value: .streamGone)
        public static let streamClosed = Code(value: .streamClosed)
        public static let configMismatch = Code(value: .configMismatch)
        public static let contentTypeMismatch = Code(value: .contentTypeMismatch)
        public static let streamSeqConflict = Code(value: .streamSeqConflict)
        public static let producerStaleEpoch = Code(value: .producerStaleEpoch)
        public static let producerSeqGap = Code(value: .producerSeqGap)
        public static let producerEpochSeq = Code(value: .producerEpochSeq)
        public static let emptyBody = Code(value: .emptyBody)
        public static let emptyJSONArray = Code(value: .emptyJSONArray)
        public static let invalidJSON = Code(value: .invalidJSON)
        public static let forkSourceNotFound = Code(value: .forkSourceNotFound)
        public static let forkSourceGone = Code(value: .forkSourceGone)
        public static let forkSourceChanged = Code(value: .forkSourceChanged)
        public static let forkOffsetInvalid = Code(value: .forkOffsetInvalid)
        public static let forkSubOffsetInvalid = Code(value: .forkSubOffsetInvalid)
        public static let preconditionFailed = Code(value: .preconditionFailed)
        public static let offsetGone = Code(value: .offsetGone)
        public static let snapshotNotFound = Code(value: .snapshotNotFound)
        public static let snapshotConflict = Code(value: .snapshotConflict)
        public static let snapshotTooLarge = Code(value: .snapshotTooLarge)
        /// A snapshot offset past the stream's tail.
        public static let snapshotBeyondTail = Code(value: .snapshotBeyondTail)
        /// `DELETE` of the latest snapshot (retention relies on it).
        public static let snapshotIsLatest = Code(value: .snapshotIsLatest)
        /// Retention past the latest snapshot (or without one).
        public static let retentionBeyondSnapshot = Code(value: .retentionBeyondSnapshot)
        public static let keyExists = Code(value: .keyExists)
        public static let keyNotFound = Code(value: .keyNotFound)
        /// A command whose fields no valid request produces (names, numbers out of range).
        public static let invalidCommand = Code(value: .invalidCommand)
        public static let invalidProducerID = Code(value: .invalidProducerID)
        /// A new producer on a stream that already remembers `ProducerLimits.maxPerStream`.
        public static let producerLimit = Code(value: .producerLimit)
        /// A counter or offset would pass its largest value.
        public static let capacityExhausted = Code(value: .capacityExhausted)
        /// A write that would take its bucket past its stored-bytes limit
        /// (`BucketMeta.maxStoredBytes`).
        public static let bucketQuotaExceeded = Code(value: .bucketQuotaExceeded)

        /// Recovers a code from its string form (used when results cross the wire).
        public init?(rawValue: String) {
            guard let value = Value(rawValue: rawValue) else { return nil }
            self.value = value
        }
        fileprivate init(value: Value) { self.value = value }
        public var rawValue: String { value.rawValue }
    }

    public var code: Code
    public var message: String
    /// The stream's tail when the protocol wants it on the error (closed → 409, If-Match → 412).
    public var nextOffset: Offset?
    /// Whether the stream is closed, for `Stream-Closed: true` on a 409.
    public var closed: Bool = false
    /// The server's current producer epoch, for `Producer-Epoch` on a 403.
    public var currentEpoch: UInt64?
    /// `Producer-Expected-Seq` / `Producer-Received-Seq` on a sequence gap.
    public var expectedSeq: UInt64?
    public var receivedSeq: UInt64?
    /// The stream's current ETag, for a failed `If-Match` (412).
    public var etag: String?
    /// The snapshot a snapshot or retention error is about (the latest, or the one in the way).
    public var snapshot: StreamSnapshot?
    /// The stream's retained offset, for a read or snapshot below it (410).
    public var retained: Offset?

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
