import Foundation
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

    /// Closes the database; nothing may use the stores after it. A snapshot file still being
    /// written holds a RocksDB snapshot or iterator: the close waits for it (up to `timeout`),
    /// because closing under it would fail, and leave the database locked for the next open.
    public func close(waitingUpTo timeout: Duration = .seconds(30)) throws(StorageError) {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                try db.close()
                return
            } catch where error.code == .closed && ContinuousClock.now < deadline {
                usleep(10_000)
            } catch {
                throw StorageError(error)
            }
        }
    }
}
