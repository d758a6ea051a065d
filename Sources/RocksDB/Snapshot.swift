import CRocksDB

/// A consistent, point-in-time view of the whole database (every column family).
/// Reads through it ignore later writes. It keeps the database alive while it exists.
public final class RocksSnapshot: @unchecked Sendable {
    private let db: RocksDB
    let raw: OpaquePointer
    private let readOptions: OpaquePointer

    init(db: RocksDB) {
        self.db = db
        raw = rocksdb_create_snapshot(db.db)
        readOptions = rocksdb_readoptions_create()
        rocksdb_readoptions_set_snapshot(readOptions, raw)
        db.retainChild()
    }

    deinit {
        rocksdb_readoptions_destroy(readOptions)
        rocksdb_release_snapshot(db.db, raw)
        db.releaseChild()
    }

    /// The value of `key` as of this snapshot, `nil` if absent.
    public func get(_ key: [UInt8], in cf: ColumnFamily) throws(RocksDBError) -> [UInt8]? {
        try db.get(key, in: cf, options: readOptions)
    }
}

extension RocksDB {
    /// Takes a consistent read snapshot of the database.
    public func snapshot() -> RocksSnapshot { RocksSnapshot(db: self) }

    /// Writes a consistent checkpoint of the database to `directory`, which must not exist.
    /// On the same filesystem the SST files are hard links, so this is cheap. Memtables are
    /// flushed first, so the checkpoint does not depend on the WAL. The result opens as a
    /// database of its own with the same column families.
    public func checkpoint(to directory: String) throws(RocksDBError) {
        let checkpoint = try rocksCall { err in rocksdb_checkpoint_object_create(db, err) }
        guard let checkpoint else {
            throw RocksDBError(code: .unknown, message: "could not create checkpoint object")
        }
        defer { rocksdb_checkpoint_object_destroy(checkpoint) }
        try rocksCall { err in rocksdb_checkpoint_create(checkpoint, directory, 0, err) }
    }
}
