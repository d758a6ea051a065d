// ReadIndex (thesis §6.4): linearizable reads without writing to the log. The leader records
// its commit index, confirms it is still leader with one round of heartbeats acknowledged by a
// majority, and then the read may be served once the state machine has applied that index.
// Reads that arrive while a round is outstanding share the next round (batching).

/// One read waiting for confirmation.
struct PendingRead: Sendable {
    var context: [UInt8]
    /// The node that asked: this node or a follower that forwarded it.
    var from: NodeID
    var index: UInt64
}

/// Leader-side ReadIndex bookkeeping.
struct ReadIndexState: Sendable {
    /// Id of the latest heartbeat round started for reads.
    var round: UInt64 = 0
    /// Reads confirmed by the current round.
    var outstanding: [PendingRead] = []
    var acks: Set<NodeID> = []
    /// Reads waiting for the next round.
    var queued: [PendingRead] = []
    /// Reads waiting for the leader's first commit in its term.
    var awaitingCommit: [PendingRead] = []
}

extension RaftNode {
    /// Requests a linearizable read point (thesis §6.4). On the leader, and on a follower (which
    /// forwards the request to the leader), the answer arrives as a ``ReadState`` with this
    /// `context` in a later ``Ready/readStates``. A forwarded request lost in the network or at a
    /// leader that lost leadership is never answered: the driver retries after a timeout.
    public mutating func readIndex(context: [UInt8]) throws(RaftError) {
        switch role {
        case .leader:
            leaderRead(context: context, from: id)
        case .follower where leaderID != 0:
            forwardedReads.append(context)
        default:
            throw RaftError(.notLeader, leaderHint: nil)
        }
    }

    mutating func leaderRead(context: [UInt8], from: NodeID) {
        let read = PendingRead(context: context, from: from, index: log.commitIndex)
        if log.term(at: log.commitIndex) != term {
            reads.awaitingCommit.append(read)
        } else {
            reads.queued.append(read)
            startReadRoundIfIdle()
        }
    }

    mutating func releaseReadsAwaitingCommit() {
        guard !reads.awaitingCommit.isEmpty else { return }
        for var r in reads.awaitingCommit {
            r.index = log.commitIndex
            reads.queued.append(r)
        }
        reads.awaitingCommit = []
        startReadRoundIfIdle()
    }

    mutating func startReadRoundIfIdle() {
        guard reads.outstanding.isEmpty, !reads.queued.isEmpty else { return }
        reads.round += 1
        reads.outstanding = reads.queued
        reads.queued = []
        reads.acks = log.membership.isVoter(id) ? [id] : []
        if readQuorumReached() {
            completeOutstandingReads()
            return
        }
        let round = reads.round
        for pid in progress.ids {
            guard let pr = progress[pid] else { continue }
            send(to: pid, .heartbeat(commit: min(pr.match, log.commitIndex), readRound: round))
        }
    }

    mutating func ackRead(from: NodeID, round: UInt64) {
        guard round == reads.round, !reads.outstanding.isEmpty, log.membership.isVoter(from) else { return }
        reads.acks.insert(from)
        if readQuorumReached() { completeOutstandingReads() }
    }

    func readQuorumReached() -> Bool {
        log.membership.voters.reduce(0) { $0 + (reads.acks.contains($1) ? 1 : 0) } >= log.membership.quorum
    }

    mutating func completeOutstandingReads() {
        let done = reads.outstanding
        reads.outstanding = []
        reads.acks = []
        var byFollower: [(NodeID, index: UInt64, contexts: [[UInt8]])] = []
        for r in done {
            if r.from == id {
                out.readStates.append(ReadState(context: r.context, index: r.index))
            } else if let i = byFollower.firstIndex(where: { $0.0 == r.from && $0.index == r.index }) {
                byFollower[i].contexts.append(r.context)
            } else {
                byFollower.append((r.from, r.index, [r.context]))
            }
        }
        for (to, index, contexts) in byFollower {
            send(to: to, .readIndexResponse(contexts: contexts, index: index))
        }
        startReadRoundIfIdle()
    }

    /// Leadership lost: local reads can no longer be confirmed here.
    mutating func abandonLeaderReads() {
        for r in reads.awaitingCommit + reads.outstanding + reads.queued where r.from == id {
            out.abandonedReads.append(r.context)
        }
        reads = ReadIndexState()
    }
}
