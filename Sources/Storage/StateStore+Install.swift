import BinaryCodec
import RocksDB
import StreamModel

extension StateStore {
    /// Replaces the whole applied state with the snapshot file at `path` and returns it
    /// loaded, as `load()` does (docs/state-transfer.md §3, step 2).
    ///
    /// Deletes every row of `meta` and `payloads`, writes the file's records in batches of
    /// about `batchBytes` that bypass the WAL (the data is written once, not twice), flushes
    /// the memtables (making those batches durable) and ends with one synced batch holding
    /// the applied index: until then the state has no applied index of the snapshot.
    /// Idempotent: after a crash anywhere in it, running it again from the same file gives
    /// the same state. The caller holds the install marker (`LogStore.beginInstall`) across
    /// it, so a crash is redone on the next start.
    ///
    /// The file is checked while it is read (order, count, checksum, the applied-index row
    /// against the header); on `.corruption` the state is partly written and the marker
    /// must stay. Blocks for as long as the install takes; call it on a dedicated thread.
    public func install(
        from path: String, batchBytes: Int = SnapshotFile.defaultBufferSize
    ) throws(StorageError) -> (model: StreamModel, appliedIndex: UInt64) {
        var reader = try SnapshotRecordReader(path: path, bufferSize: batchBytes)
        var batch = WriteBatch()
        var pending = 0
        try deleteEverything(of: meta, in: batch)
        try deleteEverything(of: payloads, in: batch)
        let meta = meta
        let payloads = payloads
        let db = db
        var appliedIndexRow: [UInt8]?
        _ = try reader.forEachRecord { family, key, value throws(StorageError) in
            let cf = family == .meta ? meta : payloads
            if family == .meta && key.elementsEqual(Keys.appliedIndex) {
                appliedIndexRow = Array(value)
                return
            }
            batch.put(key: key, value: value, in: cf)
            pending += key.count + value.count
            if pending >= batchBytes {
                do throws(RocksDBError) { try db.writeUnlogged(batch) } catch { throw StorageError(error) }
                batch = WriteBatch()
                pending = 0
            }
        }
        guard let appliedIndexRow else { throw StorageError(.corruption, "snapshot file \(path): no applied index") }
        do {
            try db.writeUnlogged(batch)
            try db.flush()
            let last = WriteBatch()
            last.put(Keys.appliedIndex, appliedIndexRow, in: meta)
            try db.write(last, sync: true)
        } catch {
            throw StorageError(error)
        }
        return try load()
    }

    /// Adds to `batch` the deletion of every key of `cf`: one range from the empty key (the
    /// smallest) to just past the largest key stored.
    private func deleteEverything(of cf: ColumnFamily, in batch: WriteBatch) throws(StorageError) {
        let iterator = db.makeIterator(cf)
        iterator.seekToLast()
        guard iterator.isValid else {
            do { try iterator.checkError() } catch { throw StorageError(error) }
            return
        }
        batch.deleteRange(from: [], to: iterator.key + [0x00], in: cf)
    }
}
