@testable import Raft

/// A snapshot file as a driver holds it.
struct SnapshotFile: Hashable {
    var metadata: SnapshotMetadata
    var data: [UInt8]
}

/// A driver's durable log as a ``LogEntrySource``: what the harness disk holds, with a switch
/// that makes reads fail and a count of reads.
final class MemoryLogSource: LogEntrySource, @unchecked Sendable {
    var base: UInt64 = 0
    var entries: [Entry] = []
    var failing = false
    var reads: [ClosedRange<UInt64>] = []

    func entries(from: UInt64, through: UInt64, maxBytes: Int) -> [Entry] {
        reads.append(from...through)
        guard !failing, from > base, from <= through else { return [] }
        var out: [Entry] = []
        var bytes = 0
        for e in entries where e.index >= from && e.index <= through {
            out.append(e)
            bytes += e.sizeInBytes
            if bytes >= maxBytes { break }
        }
        return out
    }

    func mirror(_ disk: PersistentState) {
        base = disk.snapshot?.index ?? 0
        entries = disk.entries
    }
}

/// A small in-memory cluster for interaction tests: instant persistence, FIFO delivery under
/// the test's control, and link cuts. Iteration is in id order, so runs are deterministic.
/// Snapshot files live here too: chunk reads are served at once, received chunks go to a
/// staging file that is verified (`rejectSnapshots` fails the check) when complete.
struct Harness {
    var nodes: [NodeID: RaftNode] = [:]
    var disks: [NodeID: PersistentState] = [:]
    /// Each node's snapshot file (taken or installed).
    var files: [NodeID: SnapshotFile] = [:]
    /// Each node's incoming staging file, with its sender.
    var staging: [NodeID: (file: SnapshotFile, from: NodeID)] = [:]
    /// Nodes whose next received snapshot fails verification.
    var rejectSnapshots: Set<NodeID> = []
    /// Every chunk read a leader asked for.
    var chunkReads: [SnapshotChunkRead] = []
    /// Nodes that read evicted entries back from their disk.
    var sources: [NodeID: MemoryLogSource] = [:]
    var queue: [Message] = []
    var cut: Set<UInt64> = []
    var applied: [NodeID: [Entry]] = [:]
    var readStates: [NodeID: [ReadState]] = [:]
    var abandoned: [NodeID: [[UInt8]]] = [:]
    var snapshotsInstalled: [NodeID: [SnapshotFile]] = [:]
    /// Every message that went through the network, for assertions.
    var delivered: [Message] = []
    /// Nodes whose driver does not report persistence (its writes stall).
    var stalledDisks: Set<NodeID> = []
    var config: RaftConfiguration

    static func defaultConfig() -> RaftConfiguration {
        var c = RaftConfiguration()
        c.electionTicks = 10
        c.heartbeatTicks = 1
        c.randomSeed = 7
        return c
    }

    /// `sources`: every node reads evicted entries back from its disk (``LogEntrySource``).
    init(voters: [NodeID], learners: [NodeID] = [], sources: Bool = false,
         configure: (inout RaftConfiguration) -> Void = { _ in }) {
        config = Harness.defaultConfig()
        configure(&config)
        for id in voters + learners {
            var state = PersistentState.bootstrap(voters: voters)
            state.snapshot!.membership = Membership(voters: voters, learners: learners)
            add(id, state: state, source: sources)
        }
    }

    var ids: [NodeID] { nodes.keys.sorted() }

    mutating func add(_ id: NodeID, state: PersistentState, source: Bool = false) {
        var c = config
        c.randomSeed = config.randomSeed &+ id
        if source || sources[id] != nil {
            let s = sources[id] ?? MemoryLogSource()
            s.mirror(state)
            sources[id] = s
        }
        nodes[id] = RaftNode(id: id, configuration: c, state: state, entrySource: sources[id])
        disks[id] = state
    }

    /// Simulates a crash: unpersisted state is lost, the node restarts from its disk.
    mutating func restart(_ id: NodeID) {
        add(id, state: disks[id]!)
        applied[id] = []
    }

    /// A restart that passes only the entries above `tailAbove` (and an outline of the whole
    /// stored log), with the state machine at `appliedIndex`; the rest comes from the source.
    mutating func restart(_ id: NodeID, tailAbove: UInt64, appliedIndex: UInt64) {
        let disk = disks[id]!
        var state = disk
        state.outline = LogOutline(after: disk.snapshot?.index ?? 0, entries: disk.entries)
        state.entries = disk.entries.filter { $0.index > tailAbove }
        state.appliedIndex = appliedIndex
        var c = config
        c.randomSeed = config.randomSeed &+ id
        sources[id]!.mirror(disk)
        nodes[id] = RaftNode(id: id, configuration: c, state: state, entrySource: sources[id])
        applied[id] = []
    }

    subscript(id: NodeID) -> RaftNode {
        get { nodes[id]! }
        // In place: copying a node out and back would copy its whole log on every mutation.
        _modify { yield &nodes[id]! }
    }

    func isCut(_ from: NodeID, _ to: NodeID) -> Bool { cut.contains(from << 32 | to) }

    mutating func isolate(_ id: NodeID) {
        for other in ids where other != id {
            cut.insert(id << 32 | other)
            cut.insert(other << 32 | id)
        }
    }

    mutating func cutLink(_ from: NodeID, _ to: NodeID) { cut.insert(from << 32 | to) }

    mutating func heal() { cut = [] }

    /// Heals every link, then runs all but the last two of the heartbeat rounds after which a
    /// leader counts unacknowledged appends as lost (`stallHeartbeats`, an election timeout's
    /// worth): two more rounds reveal the appends a cut follower lost.
    mutating func healBeforeStallIsRevealed() {
        heal()
        tickAll(config.electionTicks / config.heartbeatTicks - 2)
    }

    /// Runs the driver for one node: persist instantly, queue messages, apply.
    @discardableResult
    mutating func process(_ id: NodeID) -> Ready {
        let rd = nodes[id]!.ready()
        var disk = disks[id]!
        for read in rd.snapshotChunkReads {
            chunkReads.append(read)
            guard let file = files[id], file.metadata == read.metadata else { continue }
            let data = Array(file.data[Int(read.offset)..<(Int(read.offset) + read.length)])
            if let m = nodes[id]!.snapshotChunkMessage(for: read, data: data) { queue.append(m) }
        }
        var completed: [(file: SnapshotFile, from: NodeID)] = []
        if !stalledDisks.contains(id) {
            if let s = rd.snapshot {
                let file = staging[id]!.file
                precondition(file.metadata == s, "installing a snapshot that is not staged")
                disk.snapshot = s
                disk.availableSnapshot = Snapshot(metadata: s, size: UInt64(file.data.count))
                disk.entries = []
                files[id] = file
                staging[id] = nil
                snapshotsInstalled[id, default: []].append(file)
            }
            if let first = rd.entries.first {
                let base = disk.snapshot?.index ?? 0
                disk.entries.removeLast(disk.entries.count - Int(first.index - base - 1))
                disk.entries += rd.entries
            }
            if let hs = rd.hardState { disk.hardState = hs }
            for c in rd.snapshotChunksReceived {
                if c.offset == 0 {
                    staging[id] = (SnapshotFile(metadata: c.metadata, data: c.data), c.from)
                } else {
                    precondition(staging[id]?.file.metadata == c.metadata && staging[id]?.file.data.count == Int(c.offset))
                    staging[id]!.file.data += c.data
                }
                if c.done { completed.append(staging[id]!) }
            }
            if let mark = rd.persistedMark { nodes[id]!.persisted(upTo: mark.index, term: mark.term) }
            queue += rd.messagesAfterPersist
        }
        for st in completed {
            let valid = !rejectSnapshots.contains(id)
            rejectSnapshots.remove(id)
            if !valid { staging[id] = nil }
            nodes[id]!.snapshotReceived(metadata: st.file.metadata, valid: valid)
        }
        queue += rd.messages
        disks[id] = disk
        sources[id]?.mirror(disk)
        applied[id, default: []] += rd.committedEntries
        readStates[id, default: []] += rd.readStates
        abandoned[id, default: []] += rd.abandonedReads
        return rd
    }

    mutating func processAll() {
        for _ in 0..<10 {
            let ready = ids.filter { nodes[$0]!.hasReady }
            if ready.isEmpty { return }
            for id in ready { process(id) }
        }
    }

    /// Delivers queued messages (and everything they cause) until the network is quiet.
    mutating func stabilize(maxRounds: Int = 1000) {
        for _ in 0..<maxRounds {
            processAll()
            if queue.isEmpty { return }
            let batch = queue
            queue = []
            for m in batch { deliver(m) }
        }
    }

    mutating func deliver(_ m: Message) {
        guard nodes[m.to] != nil, !isCut(m.from, m.to) else { return }
        delivered.append(m)
        nodes[m.to]!.receive(m)
    }

    /// The driver of `id` writes a snapshot file of `data` at `index` and reports it, then
    /// (unless `compact` is false) compacts the log through it.
    @discardableResult
    mutating func takeSnapshot(_ id: NodeID, index: UInt64, data: [UInt8], compact: Bool = true) throws(RaftError) -> SnapshotMetadata {
        let meta = try nodes[id]!.snapshotTaken(index: index, size: UInt64(data.count))
        files[id] = SnapshotFile(metadata: meta, data: data)
        disks[id]!.availableSnapshot = Snapshot(metadata: meta, size: UInt64(data.count))
        if compact {
            let start = try nodes[id]!.compact(through: index)
            let base = disks[id]!.snapshot?.index ?? 0
            disks[id]!.entries.removeFirst(min(Int(start.index - base), disks[id]!.entries.count))
            disks[id]!.snapshot = start
            sources[id]?.mirror(disks[id]!)
        }
        return meta
    }

    /// Takes the queued messages without delivering them.
    mutating func takeQueue() -> [Message] {
        processAll()
        defer { queue = [] }
        return queue
    }

    mutating func tick(_ id: NodeID, _ n: Int = 1) {
        for _ in 0..<n { nodes[id]!.tick() }
    }

    mutating func tickAll(_ n: Int = 1) {
        for _ in 0..<n {
            for id in ids { nodes[id]!.tick() }
            stabilize()
        }
    }

    /// Makes `id` leader by campaigning and delivering everything.
    mutating func elect(_ id: NodeID) {
        nodes[id]!.campaign()
        stabilize()
    }

    var leaders: [NodeID] { ids.filter { nodes[$0]!.role == .leader } }

    @discardableResult
    mutating func propose(_ id: NodeID, _ bytes: [UInt8]) -> LogPosition? {
        try? nodes[id]!.propose(bytes)
    }

    func appliedData(_ id: NodeID) -> [[UInt8]] {
        (applied[id] ?? []).filter { $0.kind == .normal }.map(\.data)
    }
}
