import CRocksDB

/// A set of puts and deletes across column families, applied atomically by
/// `RocksDB.write(_:sync:)`. Not thread-safe: confine each batch to one thread.
public final class WriteBatch {
    let raw: OpaquePointer

    public init() {
        raw = rocksdb_writebatch_create()
    }

    deinit { rocksdb_writebatch_destroy(raw) }

    /// The number of operations recorded.
    public var count: Int { Int(rocksdb_writebatch_count(raw)) }

    /// The size in bytes of the batch's serialized representation.
    public var byteSize: Int {
        var size = 0
        _ = rocksdb_writebatch_data(raw, &size)
        return size
    }

    public func clear() { rocksdb_writebatch_clear(raw) }

    public func put(_ key: [UInt8], _ value: [UInt8], in cf: ColumnFamily) {
        key.withSlice { k, kLen in
            value.withSlice { v, vLen in
                rocksdb_writebatch_put_cf(raw, cf.handle, k, kLen, v, vLen)
            }
        }
    }

    /// Stores `value`, given as raw bytes, under `key` without an intermediate copy.
    public func put(_ key: [UInt8], bytes value: UnsafeRawBufferPointer, in cf: ColumnFamily) {
        guard let base = value.baseAddress, value.count > 0 else {
            put(key, [], in: cf)
            return
        }
        key.withSlice { k, kLen in
            rocksdb_writebatch_put_cf(raw, cf.handle, k, kLen, base.assumingMemoryBound(to: CChar.self), value.count)
        }
    }

    /// Stores `value` under `key`, both given as raw bytes (an iterator's current entry, a
    /// record in a file buffer), without intermediate arrays. RocksDB copies them into the batch.
    public func put(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, in cf: ColumnFamily) {
        var zero: CChar = 0
        withUnsafeMutablePointer(to: &zero) { empty in
            let k = key.baseAddress.map { $0.assumingMemoryBound(to: CChar.self) } ?? UnsafePointer(empty)
            let v = value.baseAddress.map { $0.assumingMemoryBound(to: CChar.self) } ?? UnsafePointer(empty)
            rocksdb_writebatch_put_cf(raw, cf.handle, k, key.count, v, value.count)
        }
    }

    public func delete(_ key: [UInt8], in cf: ColumnFamily) {
        key.withSlice { k, kLen in rocksdb_writebatch_delete_cf(raw, cf.handle, k, kLen) }
    }

    /// Deletes every key in `[start, end)`.
    public func deleteRange(from start: [UInt8], to end: [UInt8], in cf: ColumnFamily) {
        start.withSlice { s, sLen in
            end.withSlice { e, eLen in
                rocksdb_writebatch_delete_range_cf(raw, cf.handle, s, sLen, e, eLen)
            }
        }
    }
}
