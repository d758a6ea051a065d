import RocksDB

/// One node's database: a RocksDB with the Raft log (`LogStore`) and the applied state
/// (`StateStore`) in their column families (design.md "Storage layout"). Entries and the
/// state they produce live in one database, so one WAL orders them.
public final class NodeStorage: Sendable {
    let db: RocksDB
    public let log: LogStore
    public let state: StateStore

    /// Opens (creating if needed) the database at `path` with every column family.
    public init(path: String) throws(StorageError) {
        do {
            db = try RocksDB(path: path, columnFamilies: CF.all)
            log = try LogStore(db: db)
            state = try StateStore(db: db)
        } catch {
            throw StorageError(error)
        }
    }

    /// Closes the database; nothing may use the stores after it.
    public func close() throws(StorageError) {
        do { try db.close() } catch { throw StorageError(error) }
    }
}
