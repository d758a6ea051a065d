import Raft

/// A seeded, deterministic simulation of a whole Raft group: real ``RaftNode``s driven exactly
/// as the persistence contract says, over a fake network and disk, with crashes, partitions,
/// membership changes, snapshots, transfers, proposals and ReadIndex reads, and the Raft safety
/// properties (paper Figure 3) checked after every step.
public enum ClusterSimulation {
    /// Runs one seed. The same seed and options always produce the same run.
    public static func run(seed: UInt64, options: SimulationOptions = SimulationOptions()) -> Result<SimulationReport, SimulationFailure> {
        let sim = SimulationRun(seed: seed, options: options)
        do throws(SimulationFailure) {
            try sim.run()
            var report = sim.report
            report.trace = sim.traceLines
            return .success(report)
        } catch {
            var e = error
            e.trace = sim.traceLines
            return .failure(e)
        }
    }
}

final class SimulationRun {
    let seed: UInt64
    let options: SimulationOptions
    var rng: SimRandom
    var network = SimNetwork()
    var nodes: [SimNode] = []
    var oracle = SimOracle()
    var report = SimulationReport()
    var now = 0
    var faultEnd: Int
    var config = RaftConfiguration()
    var snapshotPadding: Int
    var snapshotEvery: Int
    var diskSpeed: Double
    var maxNodes: Int
    var trace: [String] = []
    var traceLimit = 300
    var livenessFirstAck: (step: Int, index: UInt64)?
    var skewedClocks = false
    /// Nodes read evicted entries back from their disk (``LogEntrySource``); without it the
    /// whole log stays in memory, as before the bound existed.
    var useEntrySource = true
    var readFailureRate = 0.0
    var corruptionRate = 0.0

    init(seed: UInt64, options: SimulationOptions) {
        self.seed = seed
        self.options = options
        rng = SimRandom(seed: seed)
        traceLimit = options.traceLimit
        faultEnd = max(0, options.steps - options.livenessSteps)
        let n = options.nodeCount > 0 ? options.nodeCount : (rng.chance(0.5) ? 3 : 5)
        maxNodes = n + 3
        config.electionTicks = 10
        config.heartbeatTicks = 2
        config.maxEntriesPerMessage = rng.inRange(1...8)
        config.maxMessageBytes = 256
        config.maxInflightEntries = rng.inRange(4...32)
        config.maxInflightBytes = 2048
        config.maxUncommittedBytes = rng.inRange(20...60) * 32
        config.snapshotChunkBytes = rng.inRange(16...96)
        // Each protection is sometimes off, never both: plain Raft lets a removed server that
        // never learns of its removal disrupt the group forever (thesis §4.2.3).
        switch rng.below(5) {
        case 0: config.preVote = false
        case 1: config.checkQuorum = false
        default: break
        }
        // The in-memory log bound: often small enough that followers and the apply loop are fed
        // from disk.
        useEntrySource = rng.below(5) != 0
        config.maxInMemoryLogBytes = useEntrySource ? [64 << 20, 2048, 512, 100][rng.below(4)] : 64 << 20
        readFailureRate = useEntrySource ? [0, 0, 0.05][rng.below(3)] : 0
        corruptionRate = [0, 0, 0.1][rng.below(3)]
        options.configure(&config)
        skewedClocks = rng.chance(0.5)
        snapshotPadding = rng.inRange(0...200)
        snapshotEvery = rng.inRange(15...80)
        diskSpeed = [0.3, 0.6, 0.9][rng.below(3)]
        network.faults = SimNetwork.Faults(
            dropRate: [0, 0.01, 0.05, 0.1][rng.below(4)],
            duplicateRate: [0, 0.02, 0.05][rng.below(3)],
            maxDelay: rng.inRange(1...4),
            longDelayRate: [0, 0.005, 0.02][rng.below(3)],
            fifoLinks: rng.chance(0.7))
        let voters = (1...UInt64(n)).map { $0 }
        for id in voters { addNode(id: id, initial: .bootstrap(voters: voters)) }
        oracle.committedMembership = Membership(voters: voters)
        report.seed = seed
        report.nodeCount = n
        for i in nodes.indices { restart(i) }
    }

    var traceLines: [String] { trace }

    func addNode(id: NodeID, initial: PersistentState) {
        let node = SimNode(id: id, initial: initial, seed: seed &* 0x9E37_79B9 &+ id)
        node.disk.readFailureRate = readFailureRate
        node.disk.corruptionRate = corruptionRate
        nodes.append(node)
    }

    func log(_ s: @autoclosure () -> String) {
        guard options.trace else { return }
        trace.append("[\(now)] " + s())
        if trace.count > traceLimit + 100 { trace.removeFirst(trace.count - traceLimit) }
    }

    func fail(_ invariant: String, _ detail: String) -> SimulationFailure {
        SimulationFailure(seed: seed, step: now, invariant: invariant, detail: detail)
    }

    // MARK: Run loop

    func run() throws(SimulationFailure) {
        for step in 0..<options.steps {
            now = step
            if step == faultEnd { enterLivenessPhase() }
            if step < faultEnd { injectFaults() }
            try clientOperations()
            for m in network.takeDue(now: now, rng: &rng) {
                guard let i = index(of: m.to), nodes[i].isUp else { continue }
                log("deliver \(m)")
                nodes[i].raft!.receive(m)
            }
            for i in nodes.indices where nodes[i].isUp && rng.chance(tickRate(of: nodes[i].id)) { nodes[i].raft!.tick() }
            for i in nodes.indices where nodes[i].isUp {
                try progressDisk(i)
                try takeSnapshotMaybe(i)
            }
            for i in nodes.indices where nodes[i].isUp {
                var rounds = 0
                while nodes[i].raft!.hasReady, rounds < 3 {
                    try processReady(i)
                    rounds += 1
                }
            }
            try checkInvariants()
        }
        try checkLiveness(final: true)
        report.steps = options.steps
        report.committedIndex = oracle.maxCommitted
        report.messagesSent = network.sent
        report.messagesDropped = network.dropped
        report.sourceReads = nodes.reduce(0) { $0 + $1.disk.reads }
    }

    /// Clock skew: each node's ticks arrive at its own rate (0.8 to 1 per step), so timeouts
    /// and heartbeats drift relative to each other. Safety must not depend on clocks.
    func tickRate(of id: NodeID) -> Double {
        guard skewedClocks else { return 1 }
        return 0.8 + Double((id &* 0x9E37_79B9 ^ seed) % 21) / 100
    }

    func index(of id: NodeID) -> Int? {
        let i = Int(id) - 1
        return i >= 0 && i < nodes.count ? i : nil
    }

    var leaderIndex: Int? {
        var best: Int?
        for i in nodes.indices where nodes[i].raft?.role == .leader {
            if best == nil || nodes[i].raft!.term > nodes[best!].raft!.term { best = i }
        }
        return best
    }

    // MARK: Crash and restart

    func crash(_ i: Int) {
        log("crash \(nodes[i].id)")
        nodes[i].raft = nil
        nodes[i].pendingWrites = []
        nodes[i].stateMachine = SimStateMachine()
        report.crashes += 1
    }

    func restart(_ i: Int) {
        var cfg = config
        nodes[i].incarnation += 1
        cfg.randomSeed = seed &* 31 &+ nodes[i].id &* 1009 &+ UInt64(nodes[i].incarnation)
        let disk = nodes[i].disk
        // Restart from the whole log, or (with a source) from an outline and only a tail: the
        // entries above the commit index (the apply loop is then re-fed from disk), or more.
        var tailFrom: UInt64?
        if useEntrySource {
            let applied = disk.snapshotFile?.metadata.index ?? 0
            let committed = max(applied, min(disk.hardState.commit, disk.lastIndex))
            switch rng.below(3) {
            case 0: tailFrom = nil
            case 1: tailFrom = committed + 1
            default: tailFrom = disk.baseIndex + 1 + UInt64(rng.below(Int(committed - min(committed, disk.baseIndex)) + 1))
            }
        }
        var raft = RaftNode(id: nodes[i].id, configuration: cfg, state: disk.persistentState(tailFrom: tailFrom),
                            entrySource: useEntrySource ? disk : nil)
        nodes[i].stateMachine = (disk.snapshotFile.flatMap { try? SimStateMachine(decoding: $0.bytes) }) ?? SimStateMachine()
        if let st = disk.staging, !raft.resumeIncomingSnapshot(metadata: st.metadata, from: st.from, receivedBytes: UInt64(st.bytes.count)) {
            disk.staging = nil
        }
        nodes[i].lastCommit = raft.commitIndex
        nodes[i].lastRole = .follower
        nodes[i].lastTerm = raft.term
        nodes[i].raft = raft
        log("restart \(nodes[i].id) term=\(raft.term) commit=\(raft.commitIndex) last=\(raft.lastIndex) tail=\(tailFrom.map(String.init) ?? "all") staging=\(disk.staging.map { "\($0.metadata.index)+\($0.bytes.count)" } ?? "none")")
    }

    // MARK: Ready processing (the driver)

    func processReady(_ i: Int) throws(SimulationFailure) {
        let rd = nodes[i].raft!.ready()
        let id = nodes[i].id
        try oracle.checkAppended(rd.entries, node: nodes[i].raft!, sim: self)
        for m in rd.messages { network.send(m, now: now, rng: &rng) }
        try serveChunkReads(rd.snapshotChunkReads, node: i)
        var installed: (metadata: SnapshotMetadata, bytes: [UInt8])?
        if let snap = rd.snapshot {
            // The verified staging file is what gets installed.
            guard let st = nodes[i].disk.staging, st.metadata == snap else {
                throw fail("Snapshot", "\(id) installs \(snap.index)/\(snap.term) which is not in its staging file")
            }
            guard let sm = try? SimStateMachine(decoding: st.bytes) else { throw fail("Snapshot", "undecodable snapshot at \(id)") }
            try oracle.checkSnapshotState(sm, meta: snap, node: id, sim: self)
            nodes[i].stateMachine = sm
            installed = (snap, st.bytes)
            report.snapshotsInstalled += 1
            log("\(id) installs snapshot \(snap.index)/\(snap.term)")
        }
        if rd.needsPersist || !nodes[i].pendingWrites.isEmpty {
            let w = PendingWrite(hardState: rd.hardState, snapshot: installed, entries: rd.entries,
                                 chunks: rd.snapshotChunksReceived, mark: rd.persistedMark, messages: rd.messagesAfterPersist)
            // The first pending write is in flight; later ones coalesce into one (group commit).
            if nodes[i].pendingWrites.count >= 2, nodes[i].pendingWrites[nodes[i].pendingWrites.count - 1].canAbsorb(w) {
                nodes[i].pendingWrites[nodes[i].pendingWrites.count - 1].absorb(w)
            } else {
                nodes[i].pendingWrites.append(w)
            }
        } else {
            for m in rd.messagesAfterPersist { network.send(m, now: now, rng: &rng) }
        }
        for e in rd.committedEntries {
            guard e.index == nodes[i].stateMachine.appliedIndex + 1 else {
                throw fail("Apply order", "\(id) applies \(e.index) after \(nodes[i].stateMachine.appliedIndex)")
            }
            nodes[i].stateMachine.apply(e)
            try oracle.checkApplied(e, state: nodes[i].stateMachine, node: nodes[i], sim: self)
        }
        for rs in rd.readStates { try oracle.checkRead(rs, node: nodes[i], sim: self) }
    }

    func progressDisk(_ i: Int) throws(SimulationFailure) {
        let speed = now >= faultEnd ? 1.0 : diskSpeed
        while !nodes[i].pendingWrites.isEmpty, rng.chance(speed) {
            let w = nodes[i].pendingWrites.removeFirst()
            let disk = nodes[i].disk
            if let first = w.entries.first {
                let base = w.snapshot?.metadata.index ?? disk.baseIndex
                let have = w.snapshot != nil ? 0 : disk.entries.count
                guard first.index > base, first.index <= base + UInt64(have) + 1 else {
                    throw fail("Persistence contract", "\(nodes[i].id) writes entry \(first.index) with disk base \(base) holding \(have)")
                }
            }
            guard disk.acceptsChunks(of: w) else {
                throw fail("Persistence contract", "\(nodes[i].id) got snapshot chunks \(w.chunks.map { "\($0.metadata.index)@\($0.offset)" }) not continuing its staging file (\(disk.staging.map { "\($0.metadata.index)+\($0.bytes.count)" } ?? "none"))")
            }
            let completed = disk.apply(w)
            for m in w.messages { network.send(m, now: now, rng: &rng) }
            if let mark = w.mark { nodes[i].raft!.persisted(upTo: mark.index, term: mark.term) }
            for st in completed {
                // The last chunk is durable: verify the file (checksum) and report it.
                let valid = (try? SimStateMachine(decoding: st.bytes))?.appliedIndex == st.metadata.index
                if !valid {
                    if disk.staging?.metadata == st.metadata { disk.staging = nil }
                    report.snapshotsRejected += 1
                }
                log("\(nodes[i].id) received snapshot \(st.metadata.index) from \(st.from): \(valid ? "valid" : "checksum mismatch")")
                nodes[i].raft!.snapshotReceived(metadata: st.metadata, valid: valid)
            }
        }
    }

    /// The leader's driver reads the requested chunks from its snapshot file and sends them.
    func serveChunkReads(_ reads: [SnapshotChunkRead], node i: Int) throws(SimulationFailure) {
        for read in reads {
            // A read of a snapshot file that was since replaced is not served: the core resends
            // and restarts the transfer with the newer snapshot.
            guard let file = nodes[i].disk.snapshotFile, file.metadata == read.metadata else { continue }
            guard read.totalBytes == UInt64(file.bytes.count), read.offset <= read.totalBytes,
                  read.length <= Int(read.totalBytes - read.offset), read.length <= config.snapshotChunkBytes,
                  read.done == (read.offset + UInt64(read.length) == read.totalBytes) else {
                throw fail("Snapshot", "\(nodes[i].id) asked to read \(read.offset)+\(read.length)/\(read.totalBytes) of a \(file.bytes.count)-byte file")
            }
            let data = Array(file.bytes[Int(read.offset)..<(Int(read.offset) + read.length)])
            if let m = nodes[i].raft!.snapshotChunkMessage(for: read, data: data) { network.send(m, now: now, rng: &rng) }
        }
    }

    /// Takes a snapshot file now and then and compacts the log behind it, through the snapshot
    /// or an older index (followers behind the log start then need the snapshot).
    func takeSnapshotMaybe(_ i: Int) throws(SimulationFailure) {
        let sm = nodes[i].stateMachine
        let latest = nodes[i].raft!.latestSnapshotMetadata?.index ?? 0
        if sm.appliedIndex >= max(latest, nodes[i].raft!.firstIndex) + UInt64(snapshotEvery), rng.chance(0.05) {
            guard let meta = nodes[i].raft!.snapshotMetadata(at: sm.appliedIndex) else {
                throw fail("Snapshot", "\(nodes[i].id) has no metadata for applied \(sm.appliedIndex)")
            }
            // The file is complete before the core hears of it.
            let data = sm.encoded(padding: snapshotPadding)
            nodes[i].disk.snapshotFile = (meta, data)
            do {
                try nodes[i].raft!.snapshotTaken(index: meta.index, size: UInt64(data.count))
            } catch {
                throw fail("Snapshot", "\(nodes[i].id) could not snapshot at applied \(sm.appliedIndex): \(error)")
            }
            report.snapshotsTaken += 1
            log("\(nodes[i].id) snapshot at \(meta.index)")
        }
        guard let snap = nodes[i].raft!.latestSnapshotMetadata, rng.chance(0.04) else { return }
        let start = nodes[i].raft!.firstIndex - 1
        let limit = min(snap.index, nodes[i].raft!.appliedIndex)
        guard limit > start else { return }
        let through = rng.chance(0.6) ? limit : start + 1 + UInt64(rng.below(Int(limit - start)))
        do {
            let newStart = try nodes[i].raft!.compact(through: through)
            nodes[i].disk.compact(newStart)
            log("\(nodes[i].id) compacts through \(newStart.index)")
        } catch {
            throw fail("Snapshot", "\(nodes[i].id) could not compact through \(through) (snapshot \(snap.index)): \(error)")
        }
    }
}
