/// What applying commands changed, for the storage layer to persist in one write batch and
/// for live readers to be woken.
public struct ApplyEffects: Sendable {
    /// A stored data unit: `bytes` at `position` of stream incarnation `streamID`.
    public struct UnitWrite: Sendable {
        public var streamID: UInt64
        public var position: UInt64
        public var bytes: [UInt8]
    }

    /// One producer's row: stored apart from its stream's row, so an append writes only the
    /// producer that changed (not every producer of the stream).
    public struct ProducerRow: Hashable, Sendable {
        public var streamID: UInt64
        public var producer: ProducerID
    }

    public var units: [UnitWrite] = []
    /// Streams whose metadata changed; if the model no longer has the path, delete its row.
    public var changedStreams: Set<StreamPath> = []
    /// Producer states that changed; if the stream no longer has the producer, delete its row.
    /// (A removed incarnation's producer rows go with `removedStreamIDs`.)
    public var changedProducers: Set<ProducerRow> = []
    /// Incarnations removed for good: their stored units and producer rows can be deleted.
    public var removedStreamIDs: [UInt64] = []
    public var changedBuckets: Set<String> = []
    /// Incarnations whose live readers must be woken (new data, closure, deletion).
    public var wake: Set<UInt64> = []

    /// A chunk of a snapshot blob (docs/stream-snapshots.md).
    public struct BlobChunk: Sendable {
        public var blobID: UInt64
        public var index: UInt32
        public var bytes: [UInt8]
    }

    /// A stream's snapshot row: `(streamID, offset)`; deleted when the stream no longer has it.
    public struct SnapshotRow: Hashable, Sendable {
        public var streamID: UInt64
        public var offset: Offset
    }

    public var blobChunks: [BlobChunk] = []
    /// Blobs whose chunks can be deleted (a deleted or pruned snapshot, a dropped upload).
    public var removedBlobs: [UInt64] = []
    public var changedSnapshots: Set<SnapshotRow> = []
    /// Uploads whose row changed; if the model no longer has the upload, delete its row.
    public var changedUploads: Set<UInt64> = []
    /// Stored units of a stream that retention dropped: every unit that ends at or before
    /// `upTo` (`streamID`, `upTo`).
    public var trims: [(streamID: UInt64, upTo: Offset)] = []
    /// API keys created or revoked (docs/access-control.md).
    public var changedKeys: Set<String> = []

    public init() {}

    public var isEmpty: Bool {
        units.isEmpty && changedStreams.isEmpty && changedProducers.isEmpty && removedStreamIDs.isEmpty
            && changedBuckets.isEmpty && blobChunks.isEmpty && removedBlobs.isEmpty && changedSnapshots.isEmpty
            && changedUploads.isEmpty && trims.isEmpty && changedKeys.isEmpty
    }
}

/// The replicated state machine of Runnel: buckets and streams with the whole model of the
/// Durable Streams protocol plus the `/ds` extensions (api.md §2).
///
/// Pure and deterministic: `apply` takes a command and the time the leader stamped on its log
/// entry, and nothing else. The model keeps metadata in memory; stored data units leave
/// through `ApplyEffects`, and are read back by the storage layer, never by the model.
public struct StreamModel: Sendable {
    public internal(set) var buckets: [String: BucketMeta]
    /// Stream rows by path. Written only through `setRow(_:at:)`, which keeps
    /// `storedBytesByBucket` exact.
    public private(set) var streams: [StreamPath: StreamMeta] = [:]
    private var pathByID: [UInt64: StreamPath] = [:]
    /// The next stream incarnation id.
    public internal(set) var nextStreamID: UInt64 = 1
    /// Snapshot uploads in progress, by blob id. Written only through `setUpload(_:blobID:)`.
    public private(set) var uploads: [UInt64: SnapshotUpload] = [:]
    /// What each bucket stores, derived from `streams` and `uploads` (never persisted; see
    /// `storedBytes(ofBucket:)`). Exact in 128 bits, so adding and taking away contributions
    /// never saturates and cannot drift; buckets that store nothing have no entry.
    private var storedBytesByBucket: [String: UInt128] = [:]
    /// The next snapshot blob id.
    public internal(set) var nextBlobID: UInt64 = 1
    /// API keys by id (docs/access-control.md).
    public internal(set) var apiKeys: [String: APIKey] = [:]

    public init() {
        buckets = [Identifiers.defaultBucket: BucketMeta(name: Identifiers.defaultBucket, createdAt: 0, streamCount: 0)]
    }

    /// Rebuilds a model from persisted metadata (the inverse of persisting `changedStreams`).
    public init(buckets: [BucketMeta], streams: [StreamMeta], nextStreamID: UInt64,
                uploads: [UInt64: SnapshotUpload] = [:], nextBlobID: UInt64 = 1, apiKeys: [APIKey] = []) {
        self.init()
        for key in apiKeys { self.apiKeys[key.id] = key }
        let highestBlob = (streams.flatMap { $0.snapshots.map(\.blobID) } + Array(uploads.keys)).max() ?? 0
        self.nextBlobID = max(nextBlobID, highestBlob == .max ? .max : highestBlob + 1)
        for bucket in buckets { self.buckets[bucket.name] = bucket }
        for meta in streams {
            setRow(meta, at: meta.path)
            pathByID[meta.id] = meta.path
        }
        // After the rows, so each upload is counted in its stream's bucket.
        for (blobID, upload) in uploads { setUpload(upload, blobID: blobID) }
        let highest = streams.map(\.id).max() ?? 0
        self.nextStreamID = max(nextStreamID, highest == .max ? .max : highest + 1)
    }

    /// The stream at `path` as a read at `now` sees it: `nil` when absent or expired.
    /// (A soft-deleted stream is returned; callers answer 410 for it.)
    public func stream(at path: StreamPath, now: Int64) -> StreamMeta? {
        guard let meta = streams[path] else { return nil }
        if !meta.softDeleted && meta.isExpired(at: now) {
            return meta.forkCount > 0 ? softDeletedCopy(meta) : nil
        }
        return meta
    }

    private func softDeletedCopy(_ meta: StreamMeta) -> StreamMeta {
        var copy = meta
        copy.softDeleted = true
        return copy
    }

    /// The stream incarnation with `id`, live or soft-deleted.
    public func stream(id: UInt64) -> StreamMeta? {
        pathByID[id].flatMap { streams[$0] }
    }

    /// Applies one command at leader time `now` (ms since the Unix epoch).
    ///
    /// Total: every command, however malformed (commands come from the log, and a log entry
    /// is as hostile as the request it came from), yields a result, the same on every
    /// replica. Nothing here traps: counters use checked arithmetic and a command that would
    /// overflow one is rejected before it changes anything.
    public mutating func apply(_ command: Command, now: Int64, effects: inout ApplyEffects) -> CommandResult {
        do {
            try Self.validate(command)
            switch command {
            case .createBucket(let name): return try createBucket(name, now: now, effects: &effects)
            case .deleteBucket(let name): return try deleteBucket(name, effects: &effects)
            case .create(let create): return .created(try createStream(create, now: now, effects: &effects))
            case .append(let append): return .appended(try appendStream(append, now: now, effects: &effects))
            case .delete(let path):
                try deleteStream(path, now: now, effects: &effects)
                return .deleted
            case .touch(let paths):
                for path in paths { touch(path, now: now, effects: &effects) }
                return .touched
            case .expire:
                return .expired(count: expireAll(now: now, effects: &effects))
            case .snapshotChunk(let chunk):
                return try storeSnapshotChunk(chunk, now: now, effects: &effects)
            case .publishSnapshot(let publish):
                return try publishSnapshot(publish, now: now, effects: &effects)
            case .deleteSnapshot(let path, let offset):
                try deleteSnapshot(path, offset: offset, now: now, effects: &effects)
                return .snapshotDeleted
            case .retain(let path, let target):
                return try retain(path, target: target, now: now, effects: &effects)
            case .createKey(let key):
                return try createKey(key, effects: &effects)
            case .revokeKey(let id):
                return try revokeKey(id, effects: &effects)
            case .setBucketLimit(let name, let maxStoredBytes):
                return try setBucketLimit(name, maxStoredBytes: maxStoredBytes, effects: &effects)
            }
        } catch {
            return .rejected(error)
        }
    }

    // MARK: Buckets

    private mutating func createBucket(_ name: String, now: Int64, effects: inout ApplyEffects) throws(ModelError) -> CommandResult {
        guard Identifiers.isValidBucket(name) else { throw ModelError(.invalidBucket, "invalid bucket name") }
        if buckets[name] != nil { return .bucketCreated(created: false) }
        buckets[name] = BucketMeta(name: name, createdAt: now, streamCount: 0)
        effects.changedBuckets.insert(name)
        return .bucketCreated(created: true)
    }

    private mutating func deleteBucket(_ name: String, effects: inout ApplyEffects) throws(ModelError) -> CommandResult {
        guard let bucket = buckets[name] else { throw ModelError(.bucketNotFound, "bucket \(name) does not exist") }
        guard name != Identifiers.defaultBucket else {
            throw ModelError(.bucketNotEmpty, "the \(Identifiers.defaultBucket) bucket cannot be deleted")
        }
        guard bucket.streamCount == 0 else {
            throw ModelError(.bucketNotEmpty, "bucket \(name) still has \(bucket.streamCount) stream(s)")
        }
        buckets[name] = nil
        effects.changedBuckets.insert(name)
        return .bucketDeleted
    }

    // MARK: Lookup with lazy expiry

    /// The live (or soft-deleted) stream at `path` as of `now`. A stream found expired is
    /// expired here, so every replica expires it at the same point of the log.
    mutating func resolve(_ path: StreamPath, now: Int64, effects: inout ApplyEffects) -> StreamMeta? {
        guard let meta = streams[path] else { return nil }
        if !meta.softDeleted && meta.isExpired(at: now) {
            expire(meta, effects: &effects)
            return streams[path]
        }
        return meta
    }

    /// Expired with forks → soft-deleted; without → removed (protocol §6, §10).
    private mutating func expire(_ meta: StreamMeta, effects: inout ApplyEffects) {
        if meta.forkCount > 0 {
            var soft = meta
            soft.softDeleted = true
            setRow(soft, at: meta.path)
            effects.changedStreams.insert(meta.path)
            effects.wake.insert(meta.id)
        } else {
            remove(meta, effects: &effects)
        }
    }

    /// Removes a stream for good and releases its reference on its fork source, cascading
    /// up a chain of soft-deleted sources (protocol §6 "Cascading GC").
    mutating func remove(_ meta: StreamMeta, effects: inout ApplyEffects) {
        // Uploads first, while their stream id still names the bucket they are counted in.
        releaseSnapshots(of: meta, effects: &effects)
        setRow(nil, at: meta.path)
        pathByID[meta.id] = nil
        effects.changedStreams.insert(meta.path)
        effects.removedStreamIDs.append(meta.id)
        effects.wake.insert(meta.id)
        if var bucket = buckets[meta.path.bucket] {
            // Saturating: the count is derived bookkeeping, and a removal must never trap.
            bucket.streamCount = bucket.streamCount.decrementedSaturating()
            buckets[meta.path.bucket] = bucket
            effects.changedBuckets.insert(bucket.name)
        }
        guard let origin = meta.fork, var source = stream(id: origin.sourceID) else { return }
        source.forkCount = source.forkCount.decrementedSaturating()
        trimIfUnpinned(&source, effects: &effects)
        setRow(source, at: source.path)
        effects.changedStreams.insert(source.path)
        if source.softDeleted && source.forkCount == 0 {
            remove(source, effects: &effects)
        }
    }

    mutating func store(_ meta: StreamMeta, effects: inout ApplyEffects) {
        setRow(meta, at: meta.path)
        pathByID[meta.id] = meta.path
        effects.changedStreams.insert(meta.path)
    }

    // MARK: Rows and the stored-bytes counter

    /// Replaces (or removes) the row at `path`: the one place a stream row is written, so the
    /// bucket's stored bytes move by exactly the row's new contribution minus its old one.
    mutating func setRow(_ meta: StreamMeta?, at path: StreamPath) {
        let old = streams[path].map(Self.storedBytes(of:)) ?? 0
        streams[path] = meta
        adjustStoredBytes(of: path.bucket, removing: old, adding: meta.map(Self.storedBytes(of:)) ?? 0)
    }

    /// Replaces (or removes) the upload of blob `blobID`: the one place an upload is written.
    /// An upload counts in the bucket of the stream it is for; the caller keeps that stream
    /// indexed until the upload is gone (uploads never outlive their stream).
    mutating func setUpload(_ upload: SnapshotUpload?, blobID: UInt64) {
        if let old = uploads[blobID], let bucket = pathByID[old.streamID]?.bucket {
            adjustStoredBytes(of: bucket, removing: UInt128(old.size), adding: 0)
        }
        uploads[blobID] = upload
        if let upload, let bucket = pathByID[upload.streamID]?.bucket {
            adjustStoredBytes(of: bucket, removing: 0, adding: UInt128(upload.size))
        }
    }

    /// What one stream row stores: its own data still kept plus its published snapshots.
    static func storedBytes(of meta: StreamMeta) -> UInt128 {
        UInt128(meta.bytesStored) + UInt128(meta.snapshotBytes)
    }

    /// Moves `bucket`'s count by `adding − removing`. Exact: contributions are below 2^65 and
    /// there are far fewer than 2^63 of them; the floor at 0 only guards against a caller
    /// removing what it never added, so even that cannot trap.
    private mutating func adjustStoredBytes(of bucket: String, removing: UInt128, adding: UInt128) {
        guard removing != adding else { return }
        let current = storedBytesByBucket[bucket] ?? 0
        let (kept, underflow) = current.subtractingReportingOverflow(removing)
        let (total, overflow) = (underflow ? 0 : kept).addingReportingOverflow(adding)
        let updated = overflow ? UInt128.max : total
        storedBytesByBucket[bucket] = updated == 0 ? nil : updated
    }

    /// The bytes `bucket` stores: over its stream rows (soft-deleted and expired-but-not-yet-
    /// removed ones included, as they still occupy the disk) the data still kept
    /// (`StreamMeta.bytesStored`) and the published snapshots (`StreamMeta.snapshotBytes`), plus
    /// the snapshot uploads in progress for its streams. What a bucket's limit
    /// (`BucketMeta.maxStoredBytes`) is compared with; `UInt64.max` past it.
    public func storedBytes(ofBucket bucket: String) -> UInt64 {
        let total = storedBytesByBucket[bucket] ?? 0
        return total > UInt128(UInt64.max) ? .max : UInt64(total)
    }

    // MARK: Delete, touch, expire

    private mutating func deleteStream(_ path: StreamPath, now: Int64, effects: inout ApplyEffects) throws(ModelError) {
        guard let meta = resolve(path, now: now, effects: &effects) else {
            throw ModelError(.streamNotFound, "stream \(path) does not exist")
        }
        guard !meta.softDeleted else { throw ModelError(.streamGone, "stream \(path) was deleted") }
        if meta.forkCount > 0 {
            var soft = meta
            soft.softDeleted = true
            store(soft, effects: &effects)
            effects.wake.insert(meta.id)
        } else {
            remove(meta, effects: &effects)
        }
    }

    private mutating func touch(_ path: StreamPath, now: Int64, effects: inout ApplyEffects) {
        guard var meta = resolve(path, now: now, effects: &effects), !meta.softDeleted,
              case .ttl = meta.expiry, meta.lastAccessAt < now
        else { return }
        meta.lastAccessAt = now
        store(meta, effects: &effects)
    }

    private mutating func expireAll(now: Int64, effects: inout ApplyEffects) -> Int {
        let expired = streams.values.filter { !$0.softDeleted && $0.isExpired(at: now) }.sorted { $0.id < $1.id }
        for meta in expired {
            // An earlier removal in this loop may have cascaded into this one already.
            if let current = streams[meta.path], current.id == meta.id, !current.softDeleted {
                expire(current, effects: &effects)
            }
        }
        expireUploads(now: now, effects: &effects)
        // Idle producers go too (they are otherwise forgotten lazily, see `checkProducer`).
        let withIdle = streams.values.filter { meta in meta.producers.values.contains { $0.isIdle(at: now) } }
        for meta in withIdle.sorted(by: { $0.id < $1.id }) {
            var copy = meta
            forgetIdleProducers(of: &copy, now: now, effects: &effects)
            store(copy, effects: &effects)
        }
        return expired.count
    }
}

extension StreamModel {
    /// Replaces the metadata at `path` (or removes it) without applying any rule: used to
    /// keep a read-side copy of the model in step with the applier's, one changed row at a
    /// time, instead of copying the whole model after every batch.
    public mutating func install(_ meta: StreamMeta?, at path: StreamPath) {
        if let old = streams[path], old.id != meta?.id { pathByID[old.id] = nil }
        setRow(meta, at: path)
        if let meta {
            pathByID[meta.id] = path
            nextStreamID = max(nextStreamID, meta.id == .max ? .max : meta.id + 1)
        }
    }

    /// Replaces (or removes) a bucket's metadata; see `install(_:at:)`.
    public mutating func install(_ bucket: BucketMeta?, named name: String) {
        buckets[name] = bucket
    }
}
