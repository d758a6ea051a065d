/// Stream snapshots and retention (api.md §2, docs/stream-snapshots.md).
///
/// A snapshot is uploaded as chunk commands, one log entry each, into a blob the model
/// allocates, then published by one command that names the blob. Rejections never leave a
/// blob behind: a publish that fails or duplicates drops its upload, and an upload that is
/// never published expires.
extension StreamModel {
    /// The live stream at `path` that is incarnation `streamID`.
    private mutating func liveStream(_ path: StreamPath, id streamID: UInt64?, now: Int64,
                                     effects: inout ApplyEffects) throws(ModelError) -> StreamMeta {
        guard let meta = resolve(path, now: now, effects: &effects) else {
            throw ModelError(.streamNotFound, "stream \(path) does not exist")
        }
        guard !meta.softDeleted else { throw ModelError(.streamGone, "stream \(path) was deleted") }
        if let streamID, streamID != meta.id {
            throw ModelError(.streamNotFound, "stream \(path) was deleted and re-created during the request")
        }
        return meta
    }

    mutating func storeSnapshotChunk(_ chunk: SnapshotChunk, now: Int64, effects: inout ApplyEffects) throws(ModelError) -> CommandResult {
        let meta = try liveStream(chunk.path, id: chunk.streamID, now: now, effects: &effects)
        guard chunk.bytes.count <= SnapshotLimits.maxChunkBytes, !chunk.bytes.isEmpty else {
            throw ModelError(.invalidCommand, "a snapshot chunk holds 1 to \(SnapshotLimits.maxChunkBytes) bytes")
        }
        let blobID: UInt64
        var upload: SnapshotUpload
        if let id = chunk.blobID {
            guard let existing = uploads[id], existing.streamID == meta.id, existing.chunkCount == chunk.index else {
                throw ModelError(.invalidCommand, "snapshot chunk \(chunk.index) does not continue an upload of \(chunk.path)")
            }
            let (size, overflow) = existing.size.addingReportingOverflow(UInt64(chunk.bytes.count))
            guard !overflow, size <= SnapshotLimits.maxBytes, existing.chunkCount < UInt32.max else {
                throw ModelError(.snapshotTooLarge, "a snapshot holds at most \(SnapshotLimits.maxBytes) bytes")
            }
            try ensureBucketRoom(chunk.path.bucket, adding: chunk.bytes.count)
            blobID = id
            upload = existing
            upload.chunkCount += 1
            upload.size = size
        } else {
            guard chunk.index == 0 else { throw ModelError(.invalidCommand, "an upload starts with chunk 0") }
            // Stale uploads are dropped lazily, when a new one starts (nothing proposes a sweep).
            expireUploads(now: now, effects: &effects)
            guard nextBlobID < UInt64.max else { throw ModelError(.capacityExhausted, "no snapshot blob ids are left") }
            let open = uploads.values.count { $0.streamID == meta.id }
            guard open < SnapshotLimits.maxUploadsPerStream else {
                throw ModelError(.snapshotConflict,
                                 "stream \(chunk.path) already has \(open) snapshot uploads in progress; retry later")
            }
            try ensureBucketRoom(chunk.path.bucket, adding: chunk.bytes.count)
            blobID = nextBlobID
            nextBlobID += 1
            upload = SnapshotUpload(streamID: meta.id, chunkCount: 1, size: UInt64(chunk.bytes.count), startedAt: now)
        }
        setUpload(upload, blobID: blobID)
        effects.changedUploads.insert(blobID)
        effects.blobChunks.append(.init(blobID: blobID, index: chunk.index, bytes: chunk.bytes))
        return .snapshotChunkStored(blobID: blobID)
    }

    mutating func publishSnapshot(_ request: PublishSnapshot, now: Int64, effects: inout ApplyEffects) throws(ModelError) -> CommandResult {
        // Whatever the outcome, an upload this command names is used up: published, or dropped.
        var upload: SnapshotUpload?
        if let blobID = request.blobID, let pending = uploads[blobID] {
            upload = pending
            setUpload(nil, blobID: blobID)
            effects.changedUploads.insert(blobID)
        }
        do throws(ModelError) {
            let result = try publish(request, upload: upload, now: now, effects: &effects)
            if case .snapshotPublished(_, duplicate: true) = result, let blobID = request.blobID, upload != nil {
                effects.removedBlobs.append(blobID)
            }
            return result
        } catch {
            if let blobID = request.blobID, upload != nil { effects.removedBlobs.append(blobID) }
            throw error
        }
    }

    private mutating func publish(_ request: PublishSnapshot, upload: SnapshotUpload?, now: Int64,
                                  effects: inout ApplyEffects) throws(ModelError) -> CommandResult {
        var meta = try liveStream(request.path, id: request.streamID, now: now, effects: &effects)
        guard request.digest.count == SnapshotDigest.byteCount,
              request.match.map({ $0.count == SnapshotDigest.byteCount }) ?? true,
              request.contentType.utf8.count <= 1024
        else { throw ModelError(.invalidCommand, "malformed snapshot digest or content type") }
        if request.size > 0 {
            guard let upload, upload.streamID == meta.id, upload.size == request.size else {
                throw ModelError(.invalidCommand, "the snapshot's bytes were not uploaded")
            }
        } else if request.blobID != nil {
            throw ModelError(.invalidCommand, "an empty snapshot has no blob")
        }
        if let existing = try meta.checkSnapshotPublish(at: request.offset, digest: request.digest, match: request.match) {
            return .snapshotPublished(existing, duplicate: true)
        }
        let snapshot = StreamSnapshot(
            offset: request.offset, digest: request.digest, contentType: request.contentType, size: request.size,
            blobID: request.size > 0 ? request.blobID ?? 0 : 0, chunkCount: upload?.chunkCount ?? 0, publishedAt: now)
        let at = meta.snapshots.firstIndex { $0.offset > request.offset } ?? meta.snapshots.endIndex
        meta.snapshots.insert(snapshot, at: at)
        effects.changedSnapshots.insert(.init(streamID: meta.id, offset: snapshot.offset))
        // Too many: the oldest goes (never the latest, which retention relies on).
        while meta.snapshots.count > SnapshotLimits.maxPerStream {
            let dropped = meta.snapshots.removeFirst()
            dropSnapshotBytes(dropped, of: meta.id, effects: &effects)
        }
        if meta.autoRetention, let latest = meta.latestSnapshot, latest.offset > meta.retained {
            advanceRetention(of: &meta, to: latest.offset, effects: &effects)
        }
        store(meta, effects: &effects)
        return .snapshotPublished(snapshot, duplicate: false)
    }

    mutating func deleteSnapshot(_ path: StreamPath, offset: Offset, now: Int64, effects: inout ApplyEffects) throws(ModelError) {
        var meta = try liveStream(path, id: nil, now: now, effects: &effects)
        guard let index = meta.snapshots.firstIndex(where: { $0.offset == offset }) else {
            throw ModelError(.snapshotNotFound, "stream \(path) has no snapshot at \(offset)")
        }
        guard index != meta.snapshots.count - 1 else {
            var error = ModelError(.snapshotIsLatest, "the latest snapshot cannot be deleted; publish a newer one first")
            error.snapshot = meta.snapshots[index]
            throw error
        }
        let dropped = meta.snapshots.remove(at: index)
        dropSnapshotBytes(dropped, of: meta.id, effects: &effects)
        store(meta, effects: &effects)
    }

    mutating func retain(_ path: StreamPath, target: RetentionTarget, now: Int64, effects: inout ApplyEffects) throws(ModelError) -> CommandResult {
        var meta = try liveStream(path, id: nil, now: now, effects: &effects)
        switch target {
        case .offset(let offset):
            try meta.checkRetention(to: offset)
            if offset > meta.retained { advanceRetention(of: &meta, to: offset, effects: &effects) }
        case .auto:
            if !meta.autoRetention {
                meta.autoRetention = true
                effects.changedStreams.insert(meta.path)
            }
            if let latest = meta.latestSnapshot, latest.offset > meta.retained {
                advanceRetention(of: &meta, to: latest.offset, effects: &effects)
            }
        case .manual:
            if meta.autoRetention {
                meta.autoRetention = false
                effects.changedStreams.insert(meta.path)
            }
        }
        store(meta, effects: &effects)
        return .retained(meta.retained, auto: meta.autoRetention)
    }

    /// Moves `meta`'s retained offset forward and drops what no reader can reach any more.
    private mutating func advanceRetention(of meta: inout StreamMeta, to offset: Offset, effects: inout ApplyEffects) {
        meta.retained = offset
        trimIfUnpinned(&meta, effects: &effects)
        effects.wake.insert(meta.id)
    }

    /// Drops `meta`'s own stored units below its retained offset, unless forks read through
    /// this stream: a fork keeps the prefix it inherits, so the source's units stay until its
    /// last fork is gone (the logical retained offset applies to the source's readers at once).
    mutating func trimIfUnpinned(_ meta: inout StreamMeta, effects: inout ApplyEffects) {
        guard meta.forkCount == 0, meta.retained > meta.trimmed, meta.retained > meta.base else { return }
        meta.trimmed = meta.retained
        effects.trims.append((meta.id, meta.retained))
    }

    private func dropSnapshotBytes(_ snapshot: StreamSnapshot, of streamID: UInt64, effects: inout ApplyEffects) {
        effects.changedSnapshots.insert(.init(streamID: streamID, offset: snapshot.offset))
        if snapshot.blobID != 0 { effects.removedBlobs.append(snapshot.blobID) }
    }

    /// Releases the snapshots and uploads of a stream removed for good.
    mutating func releaseSnapshots(of meta: StreamMeta, effects: inout ApplyEffects) {
        for snapshot in meta.snapshots { dropSnapshotBytes(snapshot, of: meta.id, effects: &effects) }
        // In blob order: effects must come out the same on every replica, whatever the order
        // of its dictionary.
        for blobID in uploads.keys.sorted() where uploads[blobID]?.streamID == meta.id {
            setUpload(nil, blobID: blobID)
            effects.changedUploads.insert(blobID)
            effects.removedBlobs.append(blobID)
        }
    }

    /// Drops uploads that were never published within `SnapshotLimits.uploadExpiryMilliseconds`.
    mutating func expireUploads(now: Int64, effects: inout ApplyEffects) {
        let stale = uploads.filter { _, upload in
            let (deadline, overflow) = upload.startedAt.addingReportingOverflow(SnapshotLimits.uploadExpiryMilliseconds)
            return !overflow && now >= deadline
        }.keys.sorted()
        for blobID in stale {
            setUpload(nil, blobID: blobID)
            effects.changedUploads.insert(blobID)
            effects.removedBlobs.append(blobID)
        }
    }
}

extension StreamMeta {
    /// The rules a snapshot of bytes with `digest` published at `offset` must pass (api.md
    /// §2), in the order the state machine applies them; the proposer runs the same checks
    /// before uploading anything. Returns the snapshot already published there with the same
    /// bytes (an idempotent publish), nil when a new one may be published. The message
    /// boundary is checked by the proposer, against the stored data.
    public func checkSnapshotPublish(at offset: Offset, digest: [UInt8], match: [UInt8]?) throws(ModelError) -> StreamSnapshot? {
        if let match, latestSnapshot?.digest != match {
            var error = ModelError(.preconditionFailed, "Stream-Snapshot-Match does not match the latest snapshot's digest")
            error.snapshot = latestSnapshot
            throw error
        }
        if let existing = snapshots.first(where: { $0.offset == offset }) {
            guard existing.digest == digest else {
                var error = ModelError(.snapshotConflict, "another snapshot is published at \(offset)")
                error.snapshot = existing
                throw error
            }
            return existing
        }
        guard offset <= tail else {
            var error = ModelError(.snapshotBeyondTail, "snapshot offset \(offset) is past the tail \(tail)")
            error.nextOffset = tail
            throw error
        }
        guard offset >= retained else {
            var error = ModelError(.offsetGone, "snapshot offset \(offset) is before the retained offset \(retained)")
            error.retained = retained
            throw error
        }
        return nil
    }

    /// Retention may reach at most the latest snapshot's offset (a lower offset than the
    /// retained one is a no-op, but still needs a snapshot that covers it).
    public func checkRetention(to offset: Offset) throws(ModelError) {
        guard let latest = latestSnapshot, offset <= latest.offset else {
            var error = ModelError(.retentionBeyondSnapshot,
                                   "retention can reach at most the latest snapshot's offset"
                                   + (latestSnapshot.map { " (\($0.offset))" } ?? "; publish a snapshot first"))
            error.snapshot = latestSnapshot
            throw error
        }
    }
}
