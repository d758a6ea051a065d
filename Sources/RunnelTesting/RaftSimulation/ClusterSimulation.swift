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
        for id in voters { nodes.append(SimNode(id: id, initial: .bootstrap(voters: voters))) }
        oracle.committedMembership = Membership(voters: voters)
        report.seed = seed
        report.nodeCount = n
        for i in nodes.indices { restart(i) }
    }

    var traceLines: [String] { trace }

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
        let raft = RaftNode(id: nodes[i].id, configuration: cfg, state: nodes[i].disk.persistentState)
        nodes[i].stateMachine = (nodes[i].disk.snapshot.flatMap { try? SimStateMachine(decoding: $0.data) }) ?? SimStateMachine()
        nodes[i].lastCommit = raft.commitIndex
        nodes[i].lastRole = .follower
        nodes[i].lastTerm = raft.term
        nodes[i].raft = raft
        log("restart \(nodes[i].id) term=\(raft.term) commit=\(raft.commitIndex) last=\(raft.lastIndex)")
    }

    // MARK: Ready processing (the driver)

    func processReady(_ i: Int) throws(SimulationFailure) {
        let rd = nodes[i].raft!.ready()
        let id = nodes[i].id
        try oracle.checkAppended(rd.entries, node: nodes[i].raft!, sim: self)
        for m in rd.messages { network.send(m, now: now, rng: &rng) }
        if let snap = rd.snapshot {
            guard let sm = try? SimStateMachine(decoding: snap.data) else { throw fail("Snapshot", "undecodable snapshot at \(id)") }
            try oracle.checkSnapshotState(sm, meta: snap.metadata, node: id, sim: self)
            nodes[i].stateMachine = sm
            report.snapshotsInstalled += 1
            log("\(id) installs snapshot \(snap.metadata.index)/\(snap.metadata.term)")
        }
        if rd.needsPersist || !nodes[i].pendingWrites.isEmpty {
            let w = PendingWrite(hardState: rd.hardState, snapshot: rd.snapshot, entries: rd.entries,
                                 mark: rd.persistedMark, messages: rd.messagesAfterPersist)
            // The first pending write is in flight; later ones coalesce into one (group commit).
            if nodes[i].pendingWrites.count >= 2 {
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
            if let first = w.entries.first {
                let base = w.snapshot?.metadata.index ?? nodes[i].disk.snapshot?.metadata.index ?? 0
                let have = w.snapshot != nil ? 0 : nodes[i].disk.entries.count
                guard first.index > base, first.index <= base + UInt64(have) + 1 else {
                    throw fail("Persistence contract", "\(nodes[i].id) writes entry \(first.index) with disk base \(base) holding \(have)")
                }
            }
            nodes[i].disk.apply(w)
            for m in w.messages { network.send(m, now: now, rng: &rng) }
            if let mark = w.mark { nodes[i].raft!.persisted(upTo: mark.index, term: mark.term) }
        }
    }

    func takeSnapshotMaybe(_ i: Int) throws(SimulationFailure) {
        let sm = nodes[i].stateMachine
        guard sm.appliedIndex >= nodes[i].raft!.firstIndex + UInt64(snapshotEvery), rng.chance(0.05) else { return }
        let data = sm.encoded(padding: snapshotPadding)
        do {
            let meta = try nodes[i].raft!.snapshotTaken(index: sm.appliedIndex, data: data)
            nodes[i].disk.compact(Snapshot(metadata: meta, data: data))
            report.snapshotsTaken += 1
            log("\(nodes[i].id) snapshot at \(meta.index)")
        } catch {
            throw fail("Snapshot", "\(nodes[i].id) could not snapshot at applied \(sm.appliedIndex): \(error)")
        }
    }
}
