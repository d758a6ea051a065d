import CRocksDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A column family of an open database, named at open time.
public struct ColumnFamily: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    let index: Int
    /// RocksDB's handle, owned by the database that produced this value.
    nonisolated(unsafe) let handle: OpaquePointer

    public var description: String { name }
    public static func == (a: ColumnFamily, b: ColumnFamily) -> Bool { a.handle == b.handle }
    public func hash(into hasher: inout Hasher) { hasher.combine(index); hasher.combine(name) }
}

/// A RocksDB database opened with a fixed set of column families.
///
/// The handle is safe to share between threads: RocksDB's `DB` allows concurrent reads and
/// writes. Every call blocks its thread (disk I/O, possibly fsync), so callers must not make
/// them on a NIO event loop or the cooperative pool; Runnel's storage runs them on dedicated
/// threads.
///
/// Iterators and snapshots keep the database alive: `close()` refuses while any are open, and
/// `deinit` closes the database once the last reference (including theirs) is gone.
public final class RocksDB: @unchecked Sendable {
    let db: OpaquePointer
    private let handles: [OpaquePointer]
    private let cfOptions: OpaquePointer
    private let dbOptions: OpaquePointer
    let readOptions: OpaquePointer
    private let syncWrite: OpaquePointer
    private let asyncWrite: OpaquePointer
    private let unloggedWrite: OpaquePointer
    private let state = Mutex(State())
    /// The directory the database lives in.
    public let path: String
    /// Column families in the order they were requested, "default" first.
    public let columnFamilies: [ColumnFamily]

    private struct State {
        var closed = false
        var openChildren = 0
    }

    /// Opens (or creates) the database at `path` with `"default"` plus `columnFamilies`.
    ///
    /// Column families that exist on disk but were not requested are opened too (RocksDB
    /// refuses to open otherwise) and remain reachable through `columnFamily(named:)`.
    public init(path: String, columnFamilies requested: [String], options: RocksDBOptions = .init()) throws(RocksDBError) {
        self.path = path
        let dbOptions = options.makeDBOptions()
        let cfOptions = options.makeDBOptions()
        self.dbOptions = dbOptions
        self.cfOptions = cfOptions
        var names = ["default"]
        for name in requested where !names.contains(name) { names.append(name) }
        let onDisk: [String]
        do {
            onDisk = try Self.listColumnFamilies(path: path, options: dbOptions)
        } catch {
            rocksdb_options_destroy(dbOptions)
            rocksdb_options_destroy(cfOptions)
            throw error
        }
        for name in onDisk where !names.contains(name) { names.append(name) }
        var handleSlots = [OpaquePointer?](repeating: nil, count: names.count)
        let cfOpts = [OpaquePointer?](repeating: cfOptions, count: names.count)
        let cNames = names.map { strdup($0) }
        defer { cNames.forEach { free($0) } }
        var err: UnsafeMutablePointer<CChar>? = nil
        let opened: OpaquePointer? = cNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { namePtrs in
            cfOpts.withUnsafeBufferPointer { optPtrs in
                handleSlots.withUnsafeMutableBufferPointer { handlePtrs in
                    if options.readOnly {
                        return rocksdb_open_for_read_only_column_families(
                            dbOptions, path, Int32(names.count), namePtrs.baseAddress, optPtrs.baseAddress,
                            handlePtrs.baseAddress, 0, &err)
                    }
                    return rocksdb_open_column_families(
                        dbOptions, path, Int32(names.count), namePtrs.baseAddress, optPtrs.baseAddress,
                        handlePtrs.baseAddress, &err)
                }
            }
        }
        guard let opened, err == nil else {
            rocksdb_options_destroy(dbOptions)
            rocksdb_options_destroy(cfOptions)
            if let err {
                let message = String(cString: err)
                rocksdb_free(err)
                throw RocksDBError(rocksMessage: message)
            }
            throw RocksDBError(code: .unknown, message: "rocksdb_open returned no handle for \(path)")
        }
        db = opened
        handles = handleSlots.map { $0! }
        columnFamilies = names.enumerated().map { ColumnFamily(name: $1, index: $0, handle: handleSlots[$0]!) }
        readOptions = rocksdb_readoptions_create()
        syncWrite = rocksdb_writeoptions_create()
        rocksdb_writeoptions_set_sync(syncWrite, 1)
        asyncWrite = rocksdb_writeoptions_create()
        unloggedWrite = rocksdb_writeoptions_create()
        rocksdb_writeoptions_disable_WAL(unloggedWrite, 1)
    }

    deinit {
        closeNow()
        rocksdb_readoptions_destroy(readOptions)
        rocksdb_writeoptions_destroy(syncWrite)
        rocksdb_writeoptions_destroy(asyncWrite)
        rocksdb_writeoptions_destroy(unloggedWrite)
        rocksdb_options_destroy(dbOptions)
        rocksdb_options_destroy(cfOptions)
    }

    /// Names of the column families stored at `path`, or `[]` if there is no database yet.
    public static func listColumnFamilies(path: String) throws(RocksDBError) -> [String] {
        let options = rocksdb_options_create()!
        defer { rocksdb_options_destroy(options) }
        return try listColumnFamilies(path: path, options: options)
    }

    /// RocksDB returns a (possibly empty) list even when it also reports an error, so the
    /// error is checked first, whatever the list.
    private static func listColumnFamilies(path: String, options: OpaquePointer) throws(RocksDBError) -> [String] {
        var count = 0
        var err: UnsafeMutablePointer<CChar>? = nil
        let list = rocksdb_list_column_families(options, path, &count, &err)
        defer { if let list { rocksdb_list_column_families_destroy(list, count) } }
        if let err {
            let message = String(cString: err)
            rocksdb_free(err)
            // A missing database is not an error here: it will be created.
            if message.contains("No such file") || message.contains("does not exist") { return [] }
            throw RocksDBError(rocksMessage: message)
        }
        guard let list else { return [] }
        return (0..<count).map { String(cString: list[$0]!) }
    }

    /// The column family called `name`.
    public func columnFamily(named name: String) throws(RocksDBError) -> ColumnFamily {
        guard let cf = columnFamilies.first(where: { $0.name == name }) else {
            throw RocksDBError(code: .invalidArgument, message: "no column family named \(name)")
        }
        return cf
    }

    func handle(_ cf: ColumnFamily) -> OpaquePointer { cf.handle }

    // MARK: Point operations

    /// The value stored under `key`, or `nil` when the key is absent. An empty value is `[]`,
    /// never `nil`.
    public func get(_ key: [UInt8], in cf: ColumnFamily) throws(RocksDBError) -> [UInt8]? {
        try get(key, in: cf, options: readOptions)
    }

    func get(_ key: [UInt8], in cf: ColumnFamily, options: OpaquePointer) throws(RocksDBError) -> [UInt8]? {
        let handle = handle(cf)
        let pinned: OpaquePointer? = try key.withSlice { k, kLen throws(RocksDBError) in
            try rocksCall { err in rocksdb_get_pinned_cf(db, options, handle, k, kLen, err) }
        }
        guard let pinned else { return nil }
        defer { rocksdb_pinnableslice_destroy(pinned) }
        var length = 0
        guard let value = rocksdb_pinnableslice_value(pinned, &length), length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: value, count: length))
    }

    /// Stores `value` under `key`. With `sync`, the write is in the fsynced WAL on return.
    public func put(_ key: [UInt8], _ value: [UInt8], in cf: ColumnFamily, sync: Bool) throws(RocksDBError) {
        let batch = WriteBatch()
        batch.put(key, value, in: cf)
        try write(batch, sync: sync)
    }

    /// Removes `key`. Removing an absent key is not an error.
    public func delete(_ key: [UInt8], in cf: ColumnFamily, sync: Bool) throws(RocksDBError) {
        let batch = WriteBatch()
        batch.delete(key, in: cf)
        try write(batch, sync: sync)
    }

    /// Applies every operation of `batch` atomically. With `sync`, the WAL (and so every
    /// earlier write too, since the WAL is sequential) is fsynced before this returns.
    public func write(_ batch: WriteBatch, sync: Bool) throws(RocksDBError) {
        let raw = batch.raw
        try rocksCall { err in rocksdb_write(db, sync ? syncWrite : asyncWrite, raw, err) }
    }

    /// Applies `batch` atomically without writing it to the WAL: a bulk load that can be
    /// redone from its source (a snapshot install) writes its data once instead of twice. The
    /// batch is lost in a crash unless `flush()` has returned since; a later logged write does
    /// not make it durable.
    public func writeUnlogged(_ batch: WriteBatch) throws(RocksDBError) {
        let raw = batch.raw
        try rocksCall { err in rocksdb_write(db, unloggedWrite, raw, err) }
    }

    /// Marks the SST files overlapping `[start, end)` of `cf` for compaction, which RocksDB's
    /// background threads then run: how the disk under a range deletion is reclaimed soon
    /// rather than whenever compaction happens to reach it. Returns at once.
    public func suggestCompaction(_ cf: ColumnFamily, from start: [UInt8], to end: [UInt8]) throws(RocksDBError) {
        let handle = handle(cf)
        try start.withSlice { s, sLen throws(RocksDBError) in
            try end.withSlice { e, eLen throws(RocksDBError) in
                try rocksCall { err in rocksdb_suggest_compact_range_cf(db, handle, s, sLen, e, eLen, err) }
            }
        }
    }

    /// Flushes memtables of every column family to SST files.
    public func flush() throws(RocksDBError) {
        let options = rocksdb_flushoptions_create()!
        defer { rocksdb_flushoptions_destroy(options) }
        rocksdb_flushoptions_set_wait(options, 1)
        for handle in handles {
            try rocksCall { err in rocksdb_flush_cf(db, options, handle, err) }
        }
    }

    /// A RocksDB property such as `rocksdb.stats`, or `nil` if unknown.
    public func property(_ name: String, in cf: ColumnFamily? = nil) -> String? {
        let raw: UnsafeMutablePointer<CChar>?
        if let cf {
            raw = rocksdb_property_value_cf(db, handle(cf), name)
        } else {
            raw = rocksdb_property_value(db, name)
        }
        guard let raw else { return nil }
        defer { rocksdb_free(raw) }
        return String(cString: raw)
    }

    // MARK: Lifetime

    /// Closes the database. Throws `.closed` if iterators or snapshots are still open.
    /// After this, no other method may be called.
    public func close() throws(RocksDBError) {
        let open = state.withLock { $0.openChildren }
        if open > 0 {
            throw RocksDBError(code: .closed, message: "\(open) iterator(s) or snapshot(s) still open")
        }
        closeNow()
    }

    private func closeNow() {
        let wasOpen = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        guard wasOpen else { return }
        // Handles must go before the database (RocksDB asserts otherwise).
        for handle in handles { rocksdb_column_family_handle_destroy(handle) }
        rocksdb_close(db)
    }

    func retainChild() { state.withLock { $0.openChildren += 1 } }
    func releaseChild() { state.withLock { $0.openChildren -= 1 } }
}
