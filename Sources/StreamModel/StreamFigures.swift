/// The figures an operator reads about one stream (`GET /admin/v1/streams/…`, api.md §3),
/// derived from its metadata. Sizes are in offset units: the stored bytes of the stream's
/// own data units (for a JSON stream each message counts 4 framing bytes more than its JSON
/// text). A fork's own data starts at its fork offset; what it inherits is its source's.
extension StreamMeta {
    /// Bytes appended to this stream's own data, ever (`tail − base`).
    public var bytesAppended: UInt64 { tail.position.subtractingSaturating(base.position) }

    /// This stream's own bytes still stored: retention drops units below `trimmed`, and
    /// nothing below `base` was ever this stream's (`tail − max(base, trimmed)`).
    public var bytesStored: UInt64 { tail.position.subtractingSaturating(max(base, trimmed).position) }

    /// The bytes of the stream's published snapshots (stored apart from its data).
    public var snapshotBytes: UInt64 { snapshots.reduce(0) { $0.addingSaturating($1.size) } }
}

/// One bucket's totals over the streams the applied state holds (`GET /admin/v1/buckets`,
/// api.md §3). Every stream row counts, soft-deleted and expired-but-not-yet-removed ones
/// included, as they still occupy the disk; sums saturate rather than wrap.
public struct BucketTotals: Hashable, Sendable {
    public var bucket: BucketMeta
    /// Streams in the bucket.
    public var streams: UInt64 = 0
    /// Sum of `StreamMeta.bytesAppended`.
    public var bytesAppended: UInt64 = 0
    /// Sum of `StreamMeta.bytesStored`.
    public var bytesStored: UInt64 = 0
    /// Sum of `StreamMeta.messageCount`.
    public var messagesAppended: UInt64 = 0
    /// Published snapshots.
    public var snapshots: UInt64 = 0
    /// Sum of `StreamMeta.snapshotBytes`.
    public var snapshotBytes: UInt64 = 0

    public init(bucket: BucketMeta) {
        self.bucket = bucket
    }

    /// Adds one stream's figures.
    mutating func add(_ meta: StreamMeta) {
        streams = streams.addingSaturating(1)
        bytesAppended = bytesAppended.addingSaturating(meta.bytesAppended)
        bytesStored = bytesStored.addingSaturating(meta.bytesStored)
        messagesAppended = messagesAppended.addingSaturating(meta.messageCount)
        snapshots = snapshots.addingSaturating(UInt64(meta.snapshots.count))
        snapshotBytes = snapshotBytes.addingSaturating(meta.snapshotBytes)
    }
}

extension StreamModel {
    /// Every bucket with the totals of its streams, ordered by name bytes: one pass over the
    /// streams, whatever the number of buckets.
    public func bucketTotals() -> [BucketTotals] {
        var totals: [String: BucketTotals] = [:]
        totals.reserveCapacity(buckets.count)
        for (name, bucket) in buckets { totals[name] = BucketTotals(bucket: bucket) }
        for (path, meta) in streams {
            // Every stream's bucket exists (a bucket with streams cannot be deleted).
            totals[path.bucket]?.add(meta)
        }
        return totals.values.sorted { Bytewise.less($0.bucket.name, $1.bucket.name) }
    }
}

extension UInt64 {
    /// `self + other`, or `UInt64.max` where the sum would overflow.
    func addingSaturating(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// `self − other`, or 0 where the difference would be negative.
    func subtractingSaturating(_ other: UInt64) -> UInt64 {
        self > other ? self - other : 0
    }
}
