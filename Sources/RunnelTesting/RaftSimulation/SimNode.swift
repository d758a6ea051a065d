import BinaryCodec
import Raft

/// What a simulated node has on disk: it survives crashes, nothing else does.
struct SimDisk {
    var hardState = HardState()
    var snapshot: Snapshot?
    var entries: [Entry] = []

    var persistentState: PersistentState {
        PersistentState(hardState: hardState, snapshot: snapshot, entries: entries)
    }

    /// Applies one `Ready`'s writes in the contract's order: snapshot, entries, hard state.
    mutating func apply(_ w: PendingWrite) {
        if let s = w.snapshot {
            snapshot = s
            entries = []
        }
        if let first = w.entries.first {
            let base = snapshot?.metadata.index ?? 0
            let keep = Int(first.index - base - 1)
            precondition(keep >= 0 && keep <= entries.count, "disk gap: writing \(first.index) after \(base + UInt64(entries.count))")
            entries.removeLast(entries.count - keep)
            entries.append(contentsOf: w.entries)
        }
        if let hs = w.hardState { hardState = hs }
    }

    /// Durably records a locally taken snapshot and drops the entries it covers.
    mutating func compact(_ snap: Snapshot) {
        let base = snapshot?.metadata.index ?? 0
        guard snap.metadata.index > base else { return }
        let drop = min(Int(snap.metadata.index - base), entries.count)
        entries.removeFirst(drop)
        snapshot = snap
    }

    /// Whether the entry (index, term) is durable here (in the log or under the snapshot).
    func holds(index: UInt64, term: UInt64) -> Bool {
        let base = snapshot?.metadata.index ?? 0
        if index <= base { return true }
        let i = Int(index - base - 1)
        return i < entries.count && entries[i].term == term
    }
}

/// One Ready's writes queued on the simulated disk, with the messages waiting for them.
struct PendingWrite {
    var hardState: HardState?
    var snapshot: Snapshot?
    var entries: [Entry]
    var mark: LogPosition?
    var messages: [Message]

    /// Group commit: a write that has not started yet absorbs the next one, as a driver
    /// batches everything that arrived while the previous fsync was running.
    mutating func absorb(_ next: PendingWrite) {
        if let s = next.snapshot {
            snapshot = s
            entries = next.entries
        } else if let first = next.entries.first {
            entries.removeAll { $0.index >= first.index }
            entries += next.entries
        }
        hardState = next.hardState ?? hardState
        mark = next.mark ?? mark
        messages += next.messages
    }
}

/// The replicated state machine of the simulation: a running hash of applied commands, so two
/// nodes agree iff they applied the same commands in the same order.
struct SimStateMachine: Equatable {
    var appliedIndex: UInt64 = 0
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    var count: UInt64 = 0

    mutating func apply(_ e: Entry) {
        appliedIndex = e.index
        guard e.kind == .normal else { return }
        for b in e.data {
            hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3
        }
        count += 1
    }

    /// Snapshot bytes: the state plus padding so transfers take several chunks.
    func encoded(padding: Int) -> [UInt8] {
        var w = ByteWriter()
        w.u64(appliedIndex)
        w.u64(hash)
        w.u64(count)
        for i in 0..<padding { w.u8(UInt8(truncatingIfNeeded: i)) }
        return w.bytes
    }

    init() {}

    init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        appliedIndex = try r.u64()
        hash = try r.u64()
        count = try r.u64()
    }
}

/// A simulated server: its disk, and (while up) its volatile Raft node and state machine.
struct SimNode {
    let id: NodeID
    var disk = SimDisk()
    var raft: RaftNode?
    var stateMachine = SimStateMachine()
    var pendingWrites: [PendingWrite] = []
    var incarnation = 0
    /// Commit index seen at the previous check, for the monotonicity invariant.
    var lastCommit: UInt64 = 0
    var lastRole: RaftRole = .follower
    var lastTerm: UInt64 = 0
    /// Retired nodes were removed from the group and are never restarted.
    var retired = false

    var isUp: Bool { raft != nil }

    init(id: NodeID, initial: PersistentState) {
        self.id = id
        disk = SimDisk(hardState: initial.hardState, snapshot: initial.snapshot, entries: initial.entries)
    }
}
