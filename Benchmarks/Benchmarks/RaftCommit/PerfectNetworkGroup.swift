import Raft

/// Drives a Raft group with nothing but the pure cores: every message is delivered at once and
/// every write is durable the moment it is handed out, so what is left to measure is the CPU
/// and heap cost of consensus itself (issue 4, "the CPU cost of consensus per entry").
///
/// The driver follows the `Ready` contract of docs/raft.md (send, persist, acknowledge,
/// apply) and keeps nothing on a simulated disk: no node restarts here, so a disk copy would
/// only add the driver's own allocations to the figures. Node `i` has id `i + 1`; node 1 leads.
struct PerfectNetworkGroup {
    private(set) var nodes: [RaftNode]
    /// Normal entries the leader has applied: committed by a majority and durable locally.
    private(set) var committedOnLeader = 0
    /// Proposal rounds since the last compaction.
    private var roundsSinceCompaction = 0
    private var outbox: [Message] = []
    private var delivering: [Message] = []

    /// Rounds between compactions. A real driver snapshots to bound the in-memory log;
    /// compacting here keeps memory flat over millions of rounds, and its cost is part of
    /// what is measured.
    static let compactionInterval = 64

    init(voters: Int, configuration: RaftConfiguration = RaftConfiguration()) {
        let ids = (1...voters).map { NodeID($0) }
        nodes = ids.map { id in
            var c = configuration
            c.randomSeed = configuration.randomSeed &+ id
            return RaftNode(id: id, configuration: c, state: .bootstrap(voters: ids))
        }
        outbox.reserveCapacity(4 * voters)
        delivering.reserveCapacity(4 * voters)
        nodes[0].campaign()
        settle()
        precondition(nodes[0].role == .leader, "node 1 did not win the election on a perfect network")
    }

    /// Proposes `commands` on the leader as one batch and runs the group until it is quiet:
    /// every command committed, applied on every node, and every acknowledgement delivered.
    mutating func commitRound(_ commands: [[UInt8]]) {
        if commands.count == 1 {
            _ = try! nodes[0].propose(commands[0])
        } else {
            _ = try! nodes[0].propose(batch: commands)
        }
        settle()
        roundsSinceCompaction += 1
        if roundsSinceCompaction == Self.compactionInterval {
            roundsSinceCompaction = 0
            compact()
        }
    }

    /// Handles `Ready`s and delivers messages until no node has anything left to do.
    mutating func settle() {
        while true {
            var progressed = false
            for i in nodes.indices where nodes[i].hasReady {
                handleReady(of: i)
                progressed = true
            }
            if !outbox.isEmpty {
                swap(&outbox, &delivering)
                for message in delivering {
                    nodes[Int(message.to) - 1].receive(message)
                }
                delivering.removeAll(keepingCapacity: true)
                progressed = true
            }
            if !progressed { return }
        }
    }

    /// One turn of the driver loop for node `i`, in the order the contract requires.
    private mutating func handleReady(of i: Int) {
        let ready = nodes[i].ready()
        outbox.append(contentsOf: ready.messages)
        // Persisting is instantaneous: acknowledge the write at once.
        if let mark = ready.persistedMark {
            nodes[i].persisted(upTo: mark.index, term: mark.term)
        }
        outbox.append(contentsOf: ready.messagesAfterPersist)
        if i == 0 {
            for entry in ready.committedEntries where entry.kind == .normal {
                committedOnLeader += 1
            }
        }
    }

    /// Takes an (empty) snapshot at the applied index on every node and drops the log up to
    /// it, as a driver bounding its memory would.
    private mutating func compact() {
        for i in nodes.indices {
            _ = try? nodes[i].snapshotTaken(index: nodes[i].appliedIndex, size: 0)
            _ = try? nodes[i].compact(through: nodes[i].appliedIndex)
        }
    }
}
