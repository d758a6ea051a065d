import BinaryCodec
import Raft
import RocksDB
import StreamModel
import Synchronization

/// The Raft log in the `raft_log` column family and Raft's persistent state in `raft_state`:
/// hard state, the latest snapshot's metadata, the node's identity and its peers' addresses.
///
/// A write with `sync` returns once it is in RocksDB's fsynced WAL — and with it every write
/// the node made before (the WAL is sequential), which is what lets the apply path write
/// without syncing.
public final class LogStore: Sendable {
    let db: RocksDB
    let log: ColumnFamily
    let state: ColumnFamily
    /// An upper bound on the index of the last stored entry (nil until first needed). Appends
    /// past it need no deletion of a stale suffix; a range deletion on every save would leave
    /// one range tombstone per write, which slows every later write and read of the log.
    private let storedLastBound = Mutex<UInt64?>(nil)

    init(db: RocksDB) throws(RocksDBError) {
        self.db = db
        log = try db.columnFamily(named: CF.raftLog)
        state = try db.columnFamily(named: CF.raftState)
    }

    /// One durable step of the Raft driver (the persistence contract in docs/raft.md): entries
    /// (the first one's index replaces any stored suffix), hard state, a new snapshot's
    /// metadata, and compaction of entries at or below `compactThrough`, in one atomic write.
    public func save(
        entries: [Entry], hardState: HardState? = nil, snapshot: SnapshotMetadata? = nil,
        compactThrough: UInt64? = nil, sync: Bool
    ) throws(StorageError) {
        let batch = WriteBatch()
        var replacesSuffix = false
        if let first = entries.first, try first.index <= storedLastUpperBound() {
            batch.deleteRange(from: Keys.logIndex(first.index), to: Keys.logIndex(.max), in: log)
            replacesSuffix = true
        }
        if let compactThrough, compactThrough > 0 {
            batch.deleteRange(from: Keys.logIndex(0), to: Keys.logIndex(compactThrough + 1), in: log)
        }
        for entry in entries {
            batch.put(Keys.logIndex(entry.index), Self.encodeValue(entry), in: log)
        }
        if let hardState { batch.put(Keys.hardState, hardState.encoded(), in: state) }
        if let snapshot { batch.put(Keys.snapshot, snapshot.encoded(), in: state) }
        do { try db.write(batch, sync: sync) } catch { throw StorageError(error) }
        // After the write: a failed write leaves the bound as it was, still an upper bound.
        if let last = entries.last {
            storedLastBound.withLock { $0 = replacesSuffix ? last.index : max($0 ?? 0, last.index) }
        }
    }

    private func storedLastUpperBound() throws(StorageError) -> UInt64 {
        if let bound = storedLastBound.withLock({ $0 }) { return bound }
        let last = try lastIndex()
        storedLastBound.withLock { $0 = max($0 ?? 0, last) }
        return last
    }

    /// Entries with index in `[from, through]`, in order; stops at the first gap.
    public func entries(from: UInt64, through: UInt64, maxBytes: Int = .max) throws(StorageError) -> [Entry] {
        guard from <= through else { return [] }
        let upper = through == .max ? nil : Keys.logIndex(through + 1)
        let iterator = db.makeIterator(log, range: KeyRange(lower: Keys.logIndex(from), upper: upper))
        iterator.seekToFirst()
        var result: [Entry] = []
        var bytes = 0
        var expected = from
        while iterator.isValid {
            let (index, value) = try iterator.withCurrent { key, value throws(StorageError) in (try Keys.uint64(key), Array(value)) }
            guard index == expected else { break }
            result.append(try Self.decodeValue(index: index, value))
            bytes += value.count
            expected += 1
            if bytes >= maxBytes { break }
            iterator.next()
        }
        do { try iterator.checkError() } catch { throw StorageError(error) }
        return result
    }

    /// The index of the last stored entry, or 0 when the log is empty.
    public func lastIndex() throws(StorageError) -> UInt64 { try boundary(last: true) }

    /// The index of the first stored entry, or 0 when the log is empty.
    public func firstIndex() throws(StorageError) -> UInt64 { try boundary(last: false) }

    private func boundary(last: Bool) throws(StorageError) -> UInt64 {
        let iterator = db.makeIterator(log)
        if last { iterator.seekToLast() } else { iterator.seekToFirst() }
        guard iterator.isValid else {
            do { try iterator.checkError() } catch { throw StorageError(error) }
            return 0
        }
        return try iterator.withCurrent { key, _ throws(StorageError) in try Keys.uint64(key) }
    }

    /// Everything Raft restarts from: hard state, the latest snapshot's metadata, and the
    /// entries after it. `nil` when the node was never initialized.
    public func persistentState() throws(StorageError) -> PersistentState? {
        guard let rawSnapshot = try get(Keys.snapshot) else { return nil }
        let rawHardState = try get(Keys.hardState)
        let snapshot: SnapshotMetadata
        var hardState = HardState()
        do {
            snapshot = try SnapshotMetadata(decoding: rawSnapshot)
            if let rawHardState { hardState = try HardState(decoding: rawHardState) }
        } catch {
            throw StorageError(.corruption, "raft state: \(error)")
        }
        let entries = try entries(from: snapshot.index + 1, through: .max)
        return PersistentState(hardState: hardState, snapshot: snapshot, entries: entries)
    }

    /// The node's id, fixed when its data directory was initialized.
    public func nodeID() throws(StorageError) -> NodeID? {
        try get(Keys.nodeIdentity).map { value throws(StorageError) in try Keys.uint64(value) }
    }

    /// Initializes a new node: its id, its peers, its cluster identity and admission, and —
    /// when `state` is given — the group's first membership (a node that still probes its
    /// peers, or joins, starts without one).
    public func initialize(
        nodeID: NodeID, peers: [NodeID: String], identity: ClusterIdentity, admission: Admission, state: PersistentState?
    ) throws(StorageError) {
        let batch = WriteBatch()
        batch.put(Keys.nodeIdentity, BigEndian.bytes(nodeID), in: self.state)
        batch.put(Keys.peerAddresses, PeerAddressBook.encoded(peers), in: self.state)
        batch.put(Keys.clusterIdentity, Self.encode(identity), in: self.state)
        batch.put(Keys.admission, [admission.rawValue], in: self.state)
        // Always a hard state and a snapshot key: `persistentState()` is what restarts read.
        Self.putInitialState(state ?? PersistentState(), into: batch, cf: self.state)
        do { try db.write(batch, sync: true) } catch { throw StorageError(error) }
    }

    /// Makes a probing node a member of a brand-new group (`state` from `.bootstrap(voters:)`),
    /// or — with `state` nil — a member that learns the membership from the leader.
    public func admit(bootstrapping state: PersistentState?) throws(StorageError) {
        let batch = WriteBatch()
        if let state { Self.putInitialState(state, into: batch, cf: self.state) }
        batch.put(Keys.admission, [Admission.member.rawValue], in: self.state)
        do { try db.write(batch, sync: true) } catch { throw StorageError(error) }
    }

    private static func putInitialState(_ state: PersistentState, into batch: WriteBatch, cf: ColumnFamily) {
        batch.put(Keys.hardState, state.hardState.encoded(), in: cf)
        batch.put(Keys.snapshot, (state.snapshot ?? SnapshotMetadata()).encoded(), in: cf)
    }

    /// The address each known member is reached at (peer transport).
    public func peerAddresses() throws(StorageError) -> [NodeID: String] {
        guard let raw = try get(Keys.peerAddresses) else { return [:] }
        var r = ByteReader(raw)
        do {
            let peers = try PeerAddressBook.decode(from: &r)
            try r.expectEnd()
            return peers
        } catch {
            throw StorageError(error, "peer addresses")
        }
    }

    public func setPeerAddresses(_ peers: [NodeID: String]) throws(StorageError) {
        do { try db.put(Keys.peerAddresses, PeerAddressBook.encoded(peers), in: state, sync: true) } catch { throw StorageError(error) }
    }

    func get(_ key: [UInt8]) throws(StorageError) -> [UInt8]? {
        do { return try db.get(key, in: state) } catch { throw StorageError(error) }
    }

    /// The stored value: term, kind, data (the index is the key).
    static func encodeValue(_ entry: Entry) -> [UInt8] {
        var w = ByteWriter(capacity: entry.data.count + 16)
        w.u64(entry.term)
        w.u8(entry.kind.rawValue)
        w.raw(entry.data)
        return w.bytes
    }

    static func decodeValue(index: UInt64, _ value: [UInt8]) throws(StorageError) -> Entry {
        var r = ByteReader(value)
        let term: UInt64
        let rawKind: UInt8
        do {
            term = try r.u64()
            rawKind = try r.u8()
        } catch {
            throw StorageError(error, "log entry \(index)")
        }
        guard let kind = EntryKind(rawValue: rawKind) else {
            throw StorageError(.corruption, "log entry \(index): unknown kind \(rawKind)")
        }
        return Entry(term: term, index: index, kind: kind, data: r.rest())
    }
}
