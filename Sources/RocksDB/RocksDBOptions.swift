import CRocksDB

/// Options for opening a database. Defaults suit Runnel's workload: many small writes with
/// periodic synced group commits, prefix/range scans of payloads, background threads sized
/// to the machine.
public struct RocksDBOptions: Sendable {
    /// Create the database (and any missing column family) if absent.
    public var createIfMissing: Bool = true
    /// Background flush/compaction threads (`IncreaseParallelism`).
    public var backgroundThreads: Int = 2
    /// Memtable size per column family, in bytes.
    public var writeBufferSize: Int = 64 << 20
    /// Once the WAL files pass this many bytes, the column families that keep the oldest one
    /// alive are flushed so it can go. RocksDB's default (4 × every memtable's capacity, 2 GiB
    /// for Runnel's four families) lets a rarely written family (`raft_state`) pin 2 GiB of
    /// WAL that retention and log compaction freed long ago.
    public var maxTotalWALBytes: UInt64 = 256 << 20
    /// Lets concurrent writers share one WAL write and sync (`enable_pipelined_write`).
    public var pipelinedWrite: Bool = true
    /// Opens the database read-only (used for checkpoints and inspection).
    public var readOnly: Bool = false

    public init() {}

    func makeDBOptions() -> OpaquePointer {
        let options = rocksdb_options_create()!
        rocksdb_options_set_create_if_missing(options, createIfMissing ? 1 : 0)
        rocksdb_options_set_create_missing_column_families(options, createIfMissing ? 1 : 0)
        rocksdb_options_increase_parallelism(options, Int32(backgroundThreads))
        rocksdb_options_set_write_buffer_size(options, writeBufferSize)
        rocksdb_options_set_max_total_wal_size(options, maxTotalWALBytes)
        rocksdb_options_set_enable_pipelined_write(options, pipelinedWrite ? 1 : 0)
        rocksdb_options_set_compression(options, Int32(rocksdb_lz4_compression))
        return options
    }
}
