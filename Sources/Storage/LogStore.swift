import RocksDB
import StreamModel

/// Raft's persistent state (Raft §5, Figure 2): the current term and vote, never decreasing.
public struct HardState: Hashable, Sendable {
    public var term: UInt64
    public var vote: UInt64?
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: UInt64? = nil, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// The durable log in the `raft_log` column family and hard state in `raft_state`.
///
/// An append with `sync` returns once the entries are in RocksDB's fsynced WAL — and with
/// them every write the node made before (the WAL is sequential), which is what lets the
/// apply path write without syncing.
public final class LogStore: Sendable {
    let db: RocksDB
    private let log: ColumnFamily
    private let state: ColumnFamily

    init(db: RocksDB) throws(RocksDBError) {
        self.db = db
        log = try db.columnFamily(named: CF.raftLog)
        state = try db.columnFamily(named: CF.raftState)
    }

    /// Appends `entries` (consecutive indexes). `truncateFrom` first removes every entry at or
    /// after that index (a follower overwriting a conflicting suffix, Raft §5.3);
    /// `compactThrough` removes every entry at or before that index (applied and durable).
    public func append(
        _ entries: [LogEntry], truncateFrom: UInt64? = nil, compactThrough: UInt64? = nil,
        hardState: HardState? = nil, sync: Bool
    ) throws(StorageError) {
        let batch = WriteBatch()
        if let truncateFrom {
            batch.deleteRange(from: Keys.logIndex(truncateFrom), to: Keys.logIndex(.max), in: log)
        }
        if let compactThrough, compactThrough > 0 {
            batch.deleteRange(from: Keys.logIndex(0), to: Keys.logIndex(compactThrough + 1), in: log)
        }
        for entry in entries {
            batch.put(Keys.logIndex(entry.index), entry.encodedValue(), in: log)
        }
        if let hardState { batch.put(Keys.hardState, Self.encode(hardState), in: state) }
        do { try db.write(batch, sync: sync) } catch { throw StorageError(error) }
    }

    /// Entries with index in `[from, through]`, in order; stops at the first gap.
    public func entries(from: UInt64, through: UInt64, maxBytes: Int = .max) throws(StorageError) -> [LogEntry] {
        guard from <= through else { return [] }
        let upper = through == .max ? nil : Keys.logIndex(through + 1)
        let iterator = db.makeIterator(log, range: KeyRange(lower: Keys.logIndex(from), upper: upper))
        iterator.seekToFirst()
        var result: [LogEntry] = []
        var bytes = 0
        var expected = from
        while iterator.isValid {
            let (index, value) = iterator.withCurrent { (Keys.readBE64($0), Array($1)) }
            guard index == expected else { break }
            do { result.append(try LogEntry.decode(index: index, value: value)) } catch {
                throw StorageError(error, "log entry \(index)")
            }
            bytes += value.count
            expected += 1
            if bytes >= maxBytes { break }
            iterator.next()
        }
        do { try iterator.checkError() } catch { throw StorageError(error) }
        return result
    }

    /// The index of the last stored entry, or 0 when the log is empty.
    public func lastIndex() throws(StorageError) -> UInt64 {
        try boundary(last: true)
    }

    /// The index of the first stored entry, or 0 when the log is empty.
    public func firstIndex() throws(StorageError) -> UInt64 {
        try boundary(last: false)
    }

    private func boundary(last: Bool) throws(StorageError) -> UInt64 {
        let iterator = db.makeIterator(log)
        if last { iterator.seekToLast() } else { iterator.seekToFirst() }
        defer { _ = try? iterator.checkError() }
        guard iterator.isValid else {
            do { try iterator.checkError() } catch { throw StorageError(error) }
            return 0
        }
        return iterator.withCurrent { key, _ in Keys.readBE64(key) }
    }

    public func hardState() throws(StorageError) -> HardState {
        let raw: [UInt8]?
        do { raw = try db.get(Keys.hardState, in: state) } catch { throw StorageError(error) }
        guard let raw else { return HardState() }
        var r = ByteReader(raw)
        do {
            let term = try r.u64()
            let vote: UInt64? = try r.bool() ? try r.u64() : nil
            return HardState(term: term, vote: vote, commit: try r.u64())
        } catch {
            throw StorageError(error, "hard state")
        }
    }

    public func setHardState(_ hardState: HardState, sync: Bool) throws(StorageError) {
        do { try db.put(Keys.hardState, Self.encode(hardState), in: state, sync: sync) } catch { throw StorageError(error) }
    }

    static func encode(_ hs: HardState) -> [UInt8] {
        var w = ByteWriter(capacity: 32)
        w.u64(hs.term)
        if let vote = hs.vote { w.u8(1); w.u64(vote) } else { w.u8(0) }
        w.u64(hs.commit)
        return w.bytes
    }
}
