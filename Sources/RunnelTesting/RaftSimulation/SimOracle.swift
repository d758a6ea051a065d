import Raft

/// The simulation's global knowledge, and the safety checks against it (paper Figure 3):
/// Election Safety, Log Matching, Leader Completeness, State Machine Safety, monotonic commit,
/// durability of committed entries on a majority, exactly-once application and linearizable reads.
struct SimOracle {
    struct EntryKey: Hashable {
        var index: UInt64
        var term: UInt64
    }

    struct Proposal {
        var node: NodeID
        var incarnation: Int
        var index: UInt64
        var term: UInt64
        var step: Int
    }

    struct Read {
        var node: NodeID
        var incarnation: Int
        var minIndex: UInt64
    }

    /// Term of each committed index (0 = not known yet); position 0 is index 0.
    var committedTerms: [UInt64] = [0]
    var maxCommitted: UInt64 { UInt64(committedTerms.count - 1) }
    /// State-machine hash after applying each index; position 0 is the initial state.
    var appliedHashes: [UInt64] = [SimStateMachine().hash]
    var appliedTerms: [UInt64] = [0]
    var appliedIDs: Set<UInt64> = []
    var leaders: [UInt64: NodeID] = [:]
    var entries: [EntryKey: (digest: UInt64, prevTerm: UInt64)] = [:]
    var proposals: [UInt64: Proposal] = [:]
    var reads: [UInt64: Read] = [:]
    var maxAckedIndex: UInt64 = 0
    var committedMembership = Membership()
    var committedMembershipIndex: UInt64 = 0
    var nextProposalID: UInt64 = 1
    var nextReadID: UInt64 = 1

    static func digest(_ e: Entry) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(e.kind.rawValue)
        for b in e.data { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    static func id(of data: [UInt8]) -> UInt64? {
        guard data.count == 8 else { return nil }
        return data.reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func bytes(of id: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: id >> (56 - 8 * UInt64($0))) }
    }

    /// Log Matching (§5.3): an (index, term) pair always names the same entry, preceded by the
    /// same term. Checked on every entry a node adds to its log, which by induction covers
    /// whole prefixes.
    mutating func checkAppended(_ new: [Entry], node: RaftNode, sim: SimulationRun) throws(SimulationFailure) {
        guard let first = new.first else { return }
        var prevTerm = node.term(at: first.index - 1)
        for e in new {
            let key = EntryKey(index: e.index, term: e.term)
            let d = SimOracle.digest(e)
            if let known = entries[key] {
                if known.digest != d || (prevTerm != nil && known.prevTerm != prevTerm!) {
                    throw sim.fail("Log Matching", "node \(node.id) has a different entry \(e.index)/\(e.term) (or predecessor term \(prevTerm.map(String.init) ?? "?") vs \(known.prevTerm))")
                }
            } else if let p = prevTerm {
                entries[key] = (d, p)
            }
            prevTerm = e.term
        }
    }

    mutating func recordCommitted(index: UInt64, term: UInt64, node: NodeID, sim: SimulationRun) throws(SimulationFailure) {
        if index <= maxCommitted {
            let known = committedTerms[Int(index)]
            if known == 0 {
                committedTerms[Int(index)] = term
            } else if known != term {
                throw sim.fail("State Machine Safety", "node \(node) committed \(index)/\(term) but \(index)/\(known) was committed")
            }
        } else {
            while maxCommitted + 1 < index { committedTerms.append(0) }
            committedTerms.append(term)
        }
    }

    /// Leader Completeness (§5.4): a new leader holds every entry committed so far.
    func checkLeaderCompleteness(_ raft: RaftNode, sim: SimulationRun) throws(SimulationFailure) {
        var c = maxCommitted
        while c > 0, committedTerms[Int(c)] == 0 { c -= 1 }
        guard c > 0, c + 1 >= raft.firstIndex else { return }
        if raft.term(at: c) != committedTerms[Int(c)] {
            throw sim.fail("Leader Completeness", "leader \(raft.id) of term \(raft.term) lacks committed \(c)/\(committedTerms[Int(c)]) (has \(raft.term(at: c).map(String.init) ?? "nothing"), last \(raft.lastIndex))")
        }
    }

    /// State Machine Safety (§5.4.3) and exactly-once: every node applies the same entry at each
    /// index and reaches the same state; no command is applied at two indexes.
    mutating func checkApplied(_ e: Entry, state: SimStateMachine, node: SimNode, sim: SimulationRun) throws(SimulationFailure) {
        let i = Int(e.index)
        if i < appliedHashes.count {
            if appliedTerms[i] != e.term || appliedHashes[i] != state.hash {
                throw sim.fail("State Machine Safety", "node \(node.id) applied \(e.index)/\(e.term) reaching a different state than \(e.index)/\(appliedTerms[i])")
            }
        } else if i == appliedHashes.count {
            appliedHashes.append(state.hash)
            appliedTerms.append(e.term)
            if e.kind == .normal, let pid = SimOracle.id(of: e.data) {
                if appliedIDs.contains(pid) {
                    throw sim.fail("Exactly once", "proposal \(pid) applied again at \(e.index)")
                }
                appliedIDs.insert(pid)
            }
        } else {
            throw sim.fail("State Machine Safety", "node \(node.id) applied \(e.index) but only \(appliedHashes.count - 1) are known")
        }
        if e.kind == .configuration, e.index > committedMembershipIndex, let m = try? ConfigurationEntry(decoding: e.data).membership {
            committedMembership = m
            committedMembershipIndex = e.index
        }
        if e.kind == .normal, let pid = SimOracle.id(of: e.data), let p = proposals[pid], p.node == node.id,
           p.incarnation == node.incarnation, p.index == e.index, p.term == e.term {
            proposals[pid] = nil
            maxAckedIndex = max(maxAckedIndex, e.index)
            sim.acknowledged(proposedAt: p.step, index: e.index)
        }
    }

    func checkSnapshotState(_ sm: SimStateMachine, meta: SnapshotMetadata, node: NodeID, sim: SimulationRun) throws(SimulationFailure) {
        let i = Int(meta.index)
        guard sm.appliedIndex == meta.index, i < appliedHashes.count, appliedHashes[i] == sm.hash else {
            throw sim.fail("State Machine Safety", "node \(node) installed snapshot \(meta.index)/\(meta.term) whose state differs from the applied history")
        }
    }

    /// Linearizable reads (thesis §6.4): the read point covers every write acknowledged before
    /// the read began.
    mutating func checkRead(_ rs: ReadState, node: SimNode, sim: SimulationRun) throws(SimulationFailure) {
        guard let rid = SimOracle.id(of: rs.context), let r = reads[rid], r.node == node.id, r.incarnation == node.incarnation else { return }
        reads[rid] = nil
        if rs.index < r.minIndex {
            throw sim.fail("Linearizable read", "read \(rid) on \(node.id) got index \(rs.index) but \(r.minIndex) was acknowledged before it began")
        }
        sim.report.readsCompleted += 1
    }
}
