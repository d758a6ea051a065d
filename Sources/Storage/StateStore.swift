import BinaryCodec
import RocksDB
import StreamModel

/// The applied state: stream and bucket metadata plus the applied index in `meta`, and the
/// stored data units in `payloads` (design.md "Storage layout").
public final class StateStore: Sendable {
    let db: RocksDB
    let meta: ColumnFamily
    let payloads: ColumnFamily

    init(db: RocksDB) throws(RocksDBError) {
        self.db = db
        meta = try db.columnFamily(named: CF.meta)
        payloads = try db.columnFamily(named: CF.payloads)
    }

    /// Rebuilds the state machine from `meta` and returns it with the index it reflects.
    ///
    /// Data dirs written by earlier versions keep opening: version-1 stream rows carry their
    /// producers inline and are rewritten in today's form (a row plus one row per producer);
    /// a row stored under a key that is not its own path's bytes (written by versions that
    /// keyed streams by Unicode equivalence) moves to its own key; bucket stream counts are
    /// recounted from the rows. The rewrite is one batch, before anything is applied.
    public func load() throws(StorageError) -> (model: StreamModel, appliedIndex: UInt64) {
        do {
            let applied = try db.get(Keys.appliedIndex, in: meta).map { v throws(StorageError) in try Keys.uint64(v) } ?? 0
            let nextID = try db.get(Keys.nextStreamID, in: meta).map { v throws(StorageError) in try Keys.uint64(v) } ?? 1
            var buckets: [String: BucketMeta] = [:]
            for (key, value) in try db.scan(meta, range: .prefix(Keys.bucketPrefix)) {
                do {
                    let bucket = try Codec.decodeBucket(value)
                    buckets[bucket.name] = bucket
                } catch {
                    throw StorageError(error, "bucket row \(key)")
                }
            }
            let repair = WriteBatch()
            var needsRepair = false
            var streams: [StreamPath: StreamMeta] = [:]
            let iterator = db.makeIterator(meta, range: .prefix(Keys.streamPrefix))
            iterator.seekToFirst()
            while iterator.isValid {
                let (key, value) = (iterator.key, iterator.value)
                let stream: StreamMeta
                do { stream = try Codec.decodeStreamMeta(value) } catch { throw StorageError(error, "stream row") }
                let ownKey = Keys.stream(stream.path)
                if key != ownKey {
                    repair.delete(key, in: meta)
                    needsRepair = true
                }
                if key != ownKey || value.first == 1 {
                    repair.put(ownKey, Codec.encode(stream), in: meta)
                    for (id, state) in stream.producers {
                        repair.put(Keys.producer(stream.id, id), Codec.encode(state), in: meta)
                    }
                    needsRepair = true
                }
                streams[stream.path] = stream
                iterator.next()
            }
            try iterator.checkError()
            try attachProducers(to: &streams)
            try attachSnapshots(to: &streams)
            let uploads = try loadUploads()
            let nextBlobID = try db.get(Keys.nextBlobID, in: meta).map { v throws(StorageError) in try Keys.uint64(v) } ?? 1
            var apiKeys: [APIKey] = []
            for (_, value) in try db.scan(meta, range: .prefix(Keys.apiKeyPrefix)) {
                do { apiKeys.append(try Codec.decodeKey(value)) } catch { throw StorageError(error, "API key row") }
            }

            var counts: [String: UInt64] = [:]
            for path in streams.keys { counts[path.bucket, default: 0] += 1 }
            for (name, var bucket) in buckets where bucket.streamCount != counts[name, default: 0] {
                bucket.streamCount = counts[name, default: 0]
                buckets[name] = bucket
                repair.put(Keys.bucket(name), Codec.encode(bucket), in: meta)
                needsRepair = true
            }
            if needsRepair { try db.write(repair, sync: true) }
            let model = StreamModel(buckets: Array(buckets.values), streams: Array(streams.values), nextStreamID: nextID,
                                    uploads: uploads, nextBlobID: nextBlobID, apiKeys: apiKeys)
            return (model, applied)
        } catch let error as RocksDBError {
            throw StorageError(error)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.io, "loading state: \(error)")
        }
    }

    /// Reads every producer row into its stream's `producers`.
    private func attachProducers(to streams: inout [StreamPath: StreamMeta]) throws {
        var pathByID: [UInt64: StreamPath] = [:]
        for (path, stream) in streams { pathByID[stream.id] = path }
        let iterator = db.makeIterator(meta, range: .prefix(Keys.producerPrefix))
        iterator.seekToFirst()
        while iterator.isValid {
            let key = iterator.key
            guard key.count > 9, let name = String(validating: key[9...], as: UTF8.self) else {
                throw StorageError(.corruption, "producer row with a malformed key")
            }
            let state: ProducerState
            do { state = try Codec.decodeProducer(iterator.value) } catch { throw StorageError(error, "producer row") }
            if let path = pathByID[try Keys.uint64(key, at: 1)] {
                streams[path]?.producers[ProducerID(name)] = state
            }
            iterator.next()
        }
        try iterator.checkError()
    }

    /// Reads every snapshot row into its stream's `snapshots` (in offset order: the key order).
    private func attachSnapshots(to streams: inout [StreamPath: StreamMeta]) throws {
        var pathByID: [UInt64: StreamPath] = [:]
        for (path, stream) in streams { pathByID[stream.id] = path }
        for (key, value) in try db.scan(meta, range: .prefix(Keys.snapshotPrefix)) {
            let snapshot: StreamSnapshot
            do { snapshot = try Codec.decodeSnapshot(value) } catch { throw StorageError(error, "snapshot row") }
            if let path = pathByID[try Keys.uint64(key, at: 1)] {
                streams[path]?.snapshots.append(snapshot)
            }
        }
    }

    private func loadUploads() throws -> [UInt64: SnapshotUpload] {
        var uploads: [UInt64: SnapshotUpload] = [:]
        for (key, value) in try db.scan(meta, range: .prefix(Keys.uploadPrefix)) {
            do { uploads[try Keys.uint64(key, at: 1)] = try Codec.decodeUpload(value) } catch {
                throw StorageError(.corruption, "snapshot upload row: \(error)")
            }
        }
        return uploads
    }

    /// Writes what a batch of applied commands changed, and the new applied index, in one
    /// atomic write batch. It is not fsynced: the log is, and replay from the applied index
    /// rebuilds anything lost (design.md "Storage layout").
    public func persist(_ effects: ApplyEffects, model: StreamModel, appliedIndex: UInt64) throws(StorageError) {
        let batch = WriteBatch()
        for id in effects.removedStreamIDs {
            batch.deleteRange(from: Keys.units(of: id), to: Keys.unitsEnd(of: id), in: payloads)
            batch.deleteRange(from: Keys.producers(of: id), to: Keys.producersEnd(of: id), in: meta)
            batch.deleteRange(from: Keys.snapshots(of: id), to: Keys.snapshotsEnd(of: id), in: meta)
        }
        for trim in effects.trims {
            if let end = try trimEnd(of: trim.streamID, upTo: trim.upTo.position) {
                batch.deleteRange(from: Keys.unit(trim.streamID, 0), to: Keys.unit(trim.streamID, end), in: payloads)
            }
        }
        for chunk in effects.blobChunks {
            batch.put(Keys.blobChunk(chunk.blobID, chunk.index), chunk.bytes, in: meta)
        }
        for blobID in effects.removedBlobs {
            batch.deleteRange(from: Keys.blob(blobID), to: Keys.blobEnd(blobID), in: meta)
        }
        for row in effects.changedSnapshots {
            let key = Keys.snapshot(row.streamID, row.offset)
            if let snapshot = model.stream(id: row.streamID)?.snapshots.first(where: { $0.offset == row.offset }) {
                batch.put(key, Codec.encode(snapshot), in: meta)
            } else {
                batch.delete(key, in: meta)
            }
        }
        for blobID in effects.changedUploads {
            if let upload = model.uploads[blobID] {
                batch.put(Keys.upload(blobID), Codec.encode(upload), in: meta)
            } else {
                batch.delete(Keys.upload(blobID), in: meta)
            }
        }
        if !effects.blobChunks.isEmpty {
            batch.put(Keys.nextBlobID, BigEndian.bytes(model.nextBlobID), in: meta)
        }
        for id in effects.changedKeys {
            if let key = model.apiKeys[id] {
                batch.put(Keys.apiKey(id), Codec.encode(key), in: meta)
            } else {
                batch.delete(Keys.apiKey(id), in: meta)
            }
        }
        for unit in effects.units {
            batch.put(Keys.unit(unit.streamID, unit.position), unit.bytes, in: payloads)
        }
        for path in effects.changedStreams {
            if let stream = model.streams[path] {
                // Keyed by the stored path itself: the map is bytewise, so it is `path`'s bytes.
                batch.put(Keys.stream(stream.path), Codec.encode(stream), in: meta)
            } else {
                batch.delete(Keys.stream(path), in: meta)
            }
        }
        for row in effects.changedProducers {
            let key = Keys.producer(row.streamID, row.producer)
            if let state = model.stream(id: row.streamID)?.producers[row.producer] {
                batch.put(key, Codec.encode(state), in: meta)
            } else {
                batch.delete(key, in: meta)
            }
        }
        for name in effects.changedBuckets {
            if let bucket = model.buckets[name] {
                batch.put(Keys.bucket(name), Codec.encode(bucket), in: meta)
            } else {
                batch.delete(Keys.bucket(name), in: meta)
            }
        }
        batch.put(Keys.nextStreamID, BigEndian.bytes(model.nextStreamID), in: meta)
        batch.put(Keys.appliedIndex, BigEndian.bytes(appliedIndex), in: meta)
        do { try db.write(batch, sync: false) } catch { throw StorageError(error) }
        // Retention's range deletions free no disk until compaction rewrites the files under
        // them: ask for it now (a hint RocksDB's background threads act on).
        for trim in effects.trims {
            try? db.suggestCompaction(payloads, from: Keys.unit(trim.streamID, 0), to: Keys.unit(trim.streamID, trim.upTo.position))
        }
    }

    /// Stream rows of `bucket` whose names start with `prefix` and sort after `after`, in
    /// name order, at most `limit`.
    public func listStreams(bucket: String, prefix: String, after: String?, limit: Int) throws(StorageError) -> [StreamMeta] {
        let base = Keys.streamsOfBucket(bucket)
        let iterator = db.makeIterator(meta, range: .prefix(base + Array(prefix.utf8)))
        if let after {
            iterator.seek(base + Array(after.utf8) + [0x00])
        } else {
            iterator.seekToFirst()
        }
        var result: [StreamMeta] = []
        while iterator.isValid && result.count < limit {
            do { result.append(try Codec.decodeStreamMeta(iterator.value)) } catch {
                throw StorageError(error, "stream row")
            }
            iterator.next()
        }
        do { try iterator.checkError() } catch { throw StorageError(error) }
        return result
    }

    /// Calls `body` with each stored unit of `streamID` that overlaps `[from, to)`, in order:
    /// the unit's start position and its bytes (valid only during the call). Returns early
    /// when `body` returns false.
    public func forEachUnit(
        of streamID: UInt64, from: UInt64, to: UInt64,
        _ body: (UInt64, UnsafeRawBufferPointer) throws(StorageError) -> Bool
    ) throws(StorageError) {
        guard from < to else { return }
        let iterator = db.makeIterator(
            payloads, range: KeyRange(lower: Keys.unit(streamID, 0), upper: Keys.unit(streamID, to)))
        // The unit containing `from` may start before it.
        iterator.seekForPrev(Keys.unit(streamID, from))
        if !iterator.isValid { iterator.seek(Keys.unit(streamID, from)) }
        while iterator.isValid {
            let keep = try iterator.withCurrent { key, value throws(StorageError) -> Bool in
                let start = try Keys.uint64(key, at: 8)
                if start + UInt64(value.count) <= from { return true }  // ends before the range
                return try body(start, value)
            }
            if !keep { break }
            iterator.next()
        }
        do { try iterator.checkError() } catch { throw StorageError(error) }
    }

    /// Where retention up to `upTo` stops dropping `streamID`'s units: every unit that ends at
    /// or before `upTo` goes; a unit `upTo` falls inside (a JSON message boundary within an
    /// append) stays whole. `nil` when there is nothing to drop.
    func trimEnd(of streamID: UInt64, upTo: UInt64) throws(StorageError) -> UInt64? {
        guard upTo > 0 else { return nil }
        var end: UInt64?
        let iterator = db.makeIterator(
            payloads, range: KeyRange(lower: Keys.unit(streamID, 0), upper: Keys.unit(streamID, upTo)))
        iterator.seekForPrev(Keys.unit(streamID, upTo - 1))
        if iterator.isValid {
            try iterator.withCurrent { key, value throws(StorageError) in
                let start = try Keys.uint64(key, at: 8)
                end = start + UInt64(value.count) <= upTo ? upTo : start
            }
        }
        do { try iterator.checkError() } catch { throw StorageError(error) }
        return end.flatMap { $0 > 0 ? $0 : nil }
    }

    /// Chunk `index` of snapshot blob `blobID`, or `nil` if it is not stored.
    public func snapshotChunk(blobID: UInt64, index: UInt32) throws(StorageError) -> [UInt8]? {
        do { return try db.get(Keys.blobChunk(blobID, index), in: meta) } catch { throw StorageError(error) }
    }

    /// Whether `offset` is a message boundary of `meta`'s stream (where a snapshot or
    /// retention may point): the tail, the start of a stored unit, or for a JSON stream the
    /// start of a message inside one. Stored units are immutable, so every replica that reads
    /// the same incarnation gets the same answer. `false` where the data was dropped.
    public func isMessageBoundary(
        _ meta: StreamMeta, _ offset: Offset, lookup: (UInt64) -> StreamMeta?
    ) throws(StorageError) -> Bool {
        guard offset.epoch == 0 else { return false }
        if offset == meta.tail || offset == .zero { return true }
        guard offset < meta.tail else { return false }
        let p = offset.position
        guard let segment = Self.segments(of: meta, from: p, to: p + 1, lookup: lookup).first else { return false }
        var boundary = false
        try forEachUnit(of: segment.id, from: p, to: p + 1) { start, unit in
            if start == p {
                boundary = true
            } else if meta.isJSON {
                StoredUnit.forEachFrame(unit) { frameStart, _ in
                    if start + UInt64(frameStart) == p { boundary = true }
                    return start + UInt64(frameStart) < p
                }
            }
            return false
        }
        return boundary
    }

    /// The stored unit that starts exactly at `position`, or `nil`.
    public func unit(of streamID: UInt64, at position: UInt64) throws(StorageError) -> [UInt8]? {
        do { return try db.get(Keys.unit(streamID, position), in: payloads) } catch { throw StorageError(error) }
    }
}
