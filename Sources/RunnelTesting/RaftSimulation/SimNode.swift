import BinaryCodec
import Raft
import SeededRandom

/// What a simulated node has on disk: it survives crashes, nothing else does. A reference type
/// because the node's ``RaftNode`` reads entries back from it (``LogEntrySource``), as a real
/// driver's node reads its RocksDB log.
///
/// `@unchecked Sendable`: the simulation is single-threaded; the core calls the source
/// synchronously from the simulation's own thread.
final class SimDisk: LogEntrySource, @unchecked Sendable {
    var hardState = HardState()
    /// The log start (compaction point or installed snapshot).
    var logStart: SnapshotMetadata?
    /// Entries `logStart.index + 1 ...`.
    var entries: [Entry] = []
    /// The snapshot file this node serves (taken locally or installed), with its bytes.
    var snapshotFile: (metadata: SnapshotMetadata, bytes: [UInt8])?
    /// The staging file of an incoming transfer.
    var staging: (metadata: SnapshotMetadata, from: NodeID, bytes: [UInt8])?
    /// Chance that a read of the log returns only a prefix of what was asked (possibly nothing),
    /// as a failing disk may: the core must cope.
    var readFailureRate = 0.0
    /// Chance that a written chunk is corrupted on its way to the staging file (caught by the
    /// checksum; the transfer restarts from byte 0).
    var corruptionRate = 0.0
    private var rng: SplitMix64
    private(set) var reads = 0

    init(state: PersistentState, seed: UInt64) {
        hardState = state.hardState
        logStart = state.snapshot
        entries = state.entries
        rng = SplitMix64(seed: seed)
    }

    var baseIndex: UInt64 { logStart?.index ?? 0 }
    var lastIndex: UInt64 { baseIndex + UInt64(entries.count) }

    /// What a restart reads back. `tailFrom` picks how much of the log is passed in memory: nil
    /// for the whole log (no outline), otherwise the entries from that index on plus an outline.
    func persistentState(tailFrom: UInt64?) -> PersistentState {
        let applied = snapshotFile?.metadata.index ?? 0
        var state = PersistentState(hardState: hardState, snapshot: logStart,
                                    availableSnapshot: snapshotFile.map { Snapshot(metadata: $0.metadata, size: UInt64($0.bytes.count)) },
                                    entries: entries, appliedIndex: applied)
        if let tailFrom {
            let from = min(max(tailFrom, baseIndex + 1), lastIndex + 1)
            state.outline = LogOutline(after: baseIndex, entries: entries)
            state.entries = Array(entries[Int(from - baseIndex - 1)...])
        }
        return state
    }

    func entries(from: UInt64, through: UInt64, maxBytes: Int) -> [Entry] {
        reads += 1
        guard from > baseIndex, from <= through, from <= lastIndex else { return [] }
        let end = min(through, lastIndex)
        var out: [Entry] = []
        var bytes = 0
        for e in entries[Int(from - baseIndex - 1)...Int(end - baseIndex - 1)] {
            out.append(e)
            bytes += e.sizeInBytes
            if bytes >= maxBytes { break }
        }
        if readFailureRate > 0, Double(rng.next() >> 11) / Double(1 << 53) < readFailureRate {
            out.removeLast(Int(rng.next() % UInt64(out.count + 1)))
        }
        return out
    }

    /// Applies one `Ready`'s writes in the contract's order: snapshot, entries, hard state, chunks.
    /// Returns the staging files whose last chunk became durable, for verification.
    func apply(_ w: PendingWrite) -> [(metadata: SnapshotMetadata, from: NodeID, bytes: [UInt8])] {
        if let s = w.snapshot {
            logStart = s.metadata
            entries = []
            snapshotFile = s
            if staging?.metadata == s.metadata { staging = nil }
        }
        if let first = w.entries.first {
            let keep = Int(first.index - baseIndex - 1)
            precondition(keep >= 0 && keep <= entries.count, "disk gap: writing \(first.index) after \(lastIndex)")
            entries.removeLast(entries.count - keep)
            entries.append(contentsOf: w.entries)
        }
        if let hs = w.hardState { hardState = hs }
        var completed: [(metadata: SnapshotMetadata, from: NodeID, bytes: [UInt8])] = []
        for c in w.chunks {
            var data = c.data
            if !data.isEmpty, corruptionRate > 0, Double(rng.next() >> 11) / Double(1 << 53) < corruptionRate {
                data[Int(rng.next() % UInt64(data.count))] ^= 0x5A
            }
            if c.offset == 0 {
                staging = (c.metadata, c.from, data)
            } else {
                staging!.bytes += data
            }
            if c.done, let st = staging { completed.append(st) }
        }
        return completed
    }

    /// Whether the chunks of `w` continue the staging file (the core hands out chunks only at the
    /// offset the staging file has reached).
    func acceptsChunks(of w: PendingWrite) -> Bool {
        var size = staging.map { UInt64($0.bytes.count) }
        var meta = staging?.metadata
        var from = staging?.from
        for c in w.chunks {
            if c.offset != 0 {
                guard meta == c.metadata, from == c.from, size == c.offset else { return false }
            }
            meta = c.metadata
            from = c.from
            size = c.offset + UInt64(c.data.count)
        }
        return true
    }

    /// Durably records a compaction: the new log start, and the entries it covers dropped.
    func compact(_ start: SnapshotMetadata) {
        guard start.index > baseIndex else { return }
        let drop = min(Int(start.index - baseIndex), entries.count)
        entries.removeFirst(drop)
        logStart = start
    }

    /// Whether the entry (index, term) is durable here (in the log or under the log start).
    func holds(index: UInt64, term: UInt64) -> Bool {
        if index <= baseIndex { return true }
        let i = Int(index - baseIndex - 1)
        return i < entries.count && entries[i].term == term
    }
}

/// One Ready's writes queued on the simulated disk, with the messages waiting for them.
struct PendingWrite {
    var hardState: HardState?
    var snapshot: (metadata: SnapshotMetadata, bytes: [UInt8])?
    var entries: [Entry]
    var chunks: [ReceivedSnapshotChunk] = []
    var mark: LogPosition?
    var messages: [Message]

    /// Group commit: a write that has not started yet absorbs the next one, as a driver
    /// batches everything that arrived while the previous fsync was running. Writes carrying
    /// snapshot chunks are not merged (their order relative to an install matters).
    func canAbsorb(_ next: PendingWrite) -> Bool { chunks.isEmpty && next.chunks.isEmpty }

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

    /// Snapshot file bytes: the state plus padding so transfers take several chunks, and a
    /// checksum of everything before it (the driver verifies a received file with it).
    func encoded(padding: Int) -> [UInt8] {
        var w = ByteWriter()
        w.u64(appliedIndex)
        w.u64(hash)
        w.u64(count)
        for i in 0..<padding { w.u8(UInt8(truncatingIfNeeded: i)) }
        w.u64(Self.checksum(w.bytes[...]))
        return w.bytes
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    struct ChecksumMismatch: Error {}

    init() {}

    /// Decodes a snapshot file, verifying its checksum.
    init(decoding bytes: [UInt8]) throws {
        guard bytes.count >= 32 else { throw ChecksumMismatch() }
        var tail = ByteReader(Array(bytes[(bytes.count - 8)...]))
        guard try tail.u64() == Self.checksum(bytes[..<(bytes.count - 8)]) else { throw ChecksumMismatch() }
        var r = ByteReader(bytes)
        appliedIndex = try r.u64()
        hash = try r.u64()
        count = try r.u64()
    }
}

/// A simulated server: its disk, and (while up) its volatile Raft node and state machine.
struct SimNode {
    let id: NodeID
    let disk: SimDisk
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

    init(id: NodeID, initial: PersistentState, seed: UInt64) {
        self.id = id
        disk = SimDisk(state: initial, seed: seed)
    }
}
