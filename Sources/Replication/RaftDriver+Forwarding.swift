import Logging
import Raft
import Storage
import StreamModel
import Synchronization

/// Routing proposals (Raft thesis §6.2): the leader proposes local and forwarded commands as
/// one entry; a follower forwards its local ones to the leader and tracks them until the
/// leader says where they went in its log.
extension RaftDriver {
    func handle(_ frame: PeerFrame, from: NodeID) {
        switch frame {
        case .raft(let message):
            // A node that is not admitted neither votes nor acknowledges (RaftDriver+Admission).
            guard admission == .member else { return }
            node.receive(message)
        case .clusterQuery(let incarnation):
            answerClusterQuery(from: from, incarnation: incarnation)
        case .clusterInfo(let clusterID, let established, let incarnation):
            recordClusterInfo(from: from, clusterID: clusterID, established: established, incarnation: incarnation)
        case .forward:
            break  // proposed in `route` together with local proposals
        case .forwardAccepted(let accepted):
            for a in accepted { waiters.setPosition(a.seq, a.position) }
        case .forwardRejected(let seqs, let reason, _):
            // A rejection names no routing: it ends a proposal's routing only when it must
            // answer the latest one (that went to `from`, the only one `from` ever got). Any
            // other is stale or ambiguous, and acting on it could route a proposal that a
            // leader appended once more; such a proposal is routed again when it is found lost
            // (`Waiters.answer`), or times out.
            let current = seqs.filter { seq in
                routed[seq]?.to == from && forwards[seq, default: []].count(where: { $0 == from }) == 1
            }
            let commands = current.compactMap { routed.removeValue(forKey: $0)?.command }
            switch reason {
            case .notLeader: unrouted += commands  // routed again once a leader is known
            case .busy: waiters.fail(current, ReplicationError(.busy, "the leader has too many uncommitted writes"))
            }
        case .membershipResponse(Self.rejoinSeq, let answer):
            do { try handleRejoinAnswer(answer) } catch {
                logger.error("recording this node's admission failed", metadata: ["error": "\(error)"])
            }
        case .membershipRequest, .membershipResponse:
            handleMembershipFrame(frame, from: from)
        }
    }

    /// Proposes local and forwarded commands on the leader (one entry per `maxCommandsPerEntry`
    /// or `maxBytesPerEntry`), forwards local ones to a known leader, and keeps them otherwise.
    func route(forwardedFrom frames: [(from: NodeID, frame: PeerFrame)]) {
        var incoming: [(from: NodeID, commands: [TaggedCommand])] = []
        for (from, frame) in frames {
            guard case .forward(let term, let commands) = frame else { continue }
            if node.role == .leader, term == node.term {
                incoming.append((from, commands))
            } else {
                // Sent to the leader of another term: proposing it now could apply it after the
                // sender has concluded it is lost. The sender routes it again.
                transport?.send([.forwardRejected(seqs: commands.map(\.tag.seq), reason: .notLeader, leaderHint: node.leaderID)], to: from)
            }
        }
        guard !unrouted.isEmpty || !incoming.isEmpty else { return }
        if node.role == .leader {
            let local = unrouted.filter { waiters.isWaiting($0.tag.seq) }
            unrouted = []
            propose(local: local, incoming: incoming)
            return
        }
        let leader = node.leaderID
        guard leader != 0, leader != id, node.role == .follower else { return }
        let local = unrouted.filter { waiters.isWaiting($0.tag.seq) }
        unrouted = []
        guard !local.isEmpty else { return }
        for c in local {
            routed[c.tag.seq] = Routing(command: c, term: node.term, to: leader)
            forwards[c.tag.seq, default: []].append(leader)
        }
        waiters.markForwarded(local.map(\.tag.seq), term: node.term)
        // Frames of at most about one entry's bytes: many large bodies forwarded at once must
        // not make one frame past what the leader's transport accepts.
        let term = node.term
        transport?.send(Self.split(local, maxCount: configuration.maxCommandsPerEntry,
                                   maxBytes: configuration.maxBytesPerEntry).map { .forward(term: term, $0) }, to: leader)
    }

    func propose(local: [TaggedCommand], incoming: [(from: NodeID, commands: [TaggedCommand])]) {
        let all = local + incoming.flatMap(\.commands)
        guard !all.isEmpty else { return }
        let batches = Self.split(all, maxCount: configuration.maxCommandsPerEntry, maxBytes: configuration.maxBytesPerEntry)
        let time = max(lastTime, configuration.clock())
        lastTime = time
        let positions: [LogPosition]
        do {
            positions = try node.propose(batch: batches.map { CommandBatch.encode(time: time, $0) })
        } catch {
            let reason: PeerFrame.ForwardRejection = error.code == .uncommittedLimit ? .busy : .notLeader
            if reason == .busy {
                waiters.fail(local.map(\.tag.seq), ReplicationError(.busy, "too many uncommitted writes"))
            } else {
                unrouted += local
            }
            for (from, commands) in incoming {
                transport?.send([.forwardRejected(seqs: commands.map(\.tag.seq), reason: reason, leaderHint: node.leaderID)], to: from)
            }
            return
        }
        var positionOf: [ProposalTag: LogPosition] = [:]
        for (batch, position) in zip(batches, positions) {
            for c in batch { positionOf[c.tag] = position }
        }
        waiters.markForwarded(local.map(\.tag.seq), term: node.term)
        for c in local {
            routed[c.tag.seq] = Routing(command: c, term: node.term, to: id)
            if let position = positionOf[c.tag] { waiters.setPosition(c.tag.seq, position) }
        }
        for (from, commands) in incoming {
            transport?.send([.forwardAccepted(commands.compactMap { c in positionOf[c.tag].map { (c.tag.seq, $0) } })], to: from)
        }
        lock.lock()
        stats.commands += UInt64(all.count)
        lock.unlock()
    }

}

extension RaftDriver {
    /// A local proposal handed to a leader: to which node, for which term.
    struct Routing {
        var command: TaggedCommand
        var term: UInt64
        var to: NodeID
    }

    /// Splits commands, in order, into groups of at most `maxCount` commands and about
    /// `maxBytes`: a command that would take a group past `maxBytes` starts the next one, so
    /// a group is larger than `maxBytes` only when it is one command (a body can be up to the
    /// HTTP body limit, and the peer transport's frame limit is sized for exactly that).
    static func split(_ commands: [TaggedCommand], maxCount: Int, maxBytes: Int) -> [[TaggedCommand]] {
        var groups: [[TaggedCommand]] = []
        var current: [TaggedCommand] = []
        var bytes = 0
        for c in commands {
            if !current.isEmpty && (current.count >= maxCount || bytes + c.command.count > maxBytes) {
                groups.append(current)
                current = []
                bytes = 0
            }
            current.append(c)
            bytes += c.command.count
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }
}
