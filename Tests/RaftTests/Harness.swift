@testable import Raft

/// A small in-memory cluster for interaction tests: instant persistence, FIFO delivery under
/// the test's control, and link cuts. Iteration is in id order, so runs are deterministic.
struct Harness {
    var nodes: [NodeID: RaftNode] = [:]
    var disks: [NodeID: PersistentState] = [:]
    var queue: [Message] = []
    var cut: Set<UInt64> = []
    var applied: [NodeID: [Entry]] = [:]
    var readStates: [NodeID: [ReadState]] = [:]
    var abandoned: [NodeID: [[UInt8]]] = [:]
    var snapshotsInstalled: [NodeID: [Snapshot]] = [:]
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

    init(voters: [NodeID], learners: [NodeID] = [], configure: (inout RaftConfiguration) -> Void = { _ in }) {
        config = Harness.defaultConfig()
        configure(&config)
        for id in voters + learners {
            var state = PersistentState.bootstrap(voters: voters)
            state.snapshot!.metadata.membership = Membership(voters: voters, learners: learners)
            add(id, state: state)
        }
    }

    var ids: [NodeID] { nodes.keys.sorted() }

    mutating func add(_ id: NodeID, state: PersistentState) {
        var c = config
        c.randomSeed = config.randomSeed &+ id
        nodes[id] = RaftNode(id: id, configuration: c, state: state)
        disks[id] = state
    }

    /// Simulates a crash: unpersisted state is lost, the node restarts from its disk.
    mutating func restart(_ id: NodeID) {
        add(id, state: disks[id]!)
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

    /// Runs the driver for one node: persist instantly, queue messages, apply.
    @discardableResult
    mutating func process(_ id: NodeID) -> Ready {
        let rd = nodes[id]!.ready()
        var disk = disks[id]!
        if !stalledDisks.contains(id) {
            if let s = rd.snapshot {
                disk.snapshot = s
                disk.entries = []
                snapshotsInstalled[id, default: []].append(s)
            }
            if let first = rd.entries.first {
                let base = disk.snapshot?.metadata.index ?? 0
                disk.entries.removeLast(disk.entries.count - Int(first.index - base - 1))
                disk.entries += rd.entries
            }
            if let hs = rd.hardState { disk.hardState = hs }
            if let mark = rd.persistedMark { nodes[id]!.persisted(upTo: mark.index, term: mark.term) }
            queue += rd.messagesAfterPersist
        }
        queue += rd.messages
        disks[id] = disk
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
