// Membership changes one server at a time (thesis §4.2–§4.3), with learners (§4.2.1).
//
// Why single-server changes rather than joint consensus: adding or removing one voter means
// every majority of the old voters overlaps every majority of the new ones, so the new
// configuration can take effect as soon as it is appended (thesis §4.1), with no intermediate
// joint state to track, persist and recover. Two rules keep it safe: only one change may be
// uncommitted at a time, and a leader must commit an entry of its own term before its first
// change (the fix to the single-server bug, Ongaro, raft-dev 2015). Every larger change is
// reachable as a sequence (add learner, let it catch up, promote; remove).

extension RaftNode {
    /// Proposes a single-server membership change (thesis §4.2). It takes effect on each server
    /// as soon as the entry is in its log (thesis §4.1); the next change is accepted once it
    /// commits. Removing the leader itself is allowed: it keeps leading without counting its own
    /// vote until the change commits, then steps down (thesis §4.2.2). `context` travels in the
    /// entry (``ConfigurationEntry``) for the driver, e.g. the new member's peer address.
    @discardableResult
    public mutating func proposeMembershipChange(_ change: MembershipChange, context: [UInt8] = []) throws(RaftError) -> LogPosition {
        try checkCanPropose(bytes: 0)
        guard log.term(at: log.commitIndex) == term else { throw RaftError(.leaderNotReady) }
        guard log.membershipIndex <= log.commitIndex else { throw RaftError(.membershipChangePending) }
        guard let next = log.membership.applying(change) else { throw RaftError(.invalidMembershipChange) }
        let pos = appendAsLeader(kind: .configuration, data: ConfigurationEntry(membership: next, context: context).encoded())
        broadcastAppend(sendIfEmpty: false)
        return pos
    }

    /// Whether the latest configuration entry is not committed yet: no other change is
    /// accepted until it is (thesis §4.1).
    public var membershipChangePending: Bool { log.membershipIndex > log.commitIndex }

    /// Makes the leader's progress map match the membership (new members start probing).
    mutating func syncProgress() {
        let m = log.membership
        for pid in progress.ids where !m.contains(pid) { progress[pid] = nil }
        for member in m.allMembers where member != id {
            if progress[member] == nil {
                progress[member] = Progress(next: log.lastIndex + 1, isLearner: m.isLearner(member))
            } else {
                progress.with(member) { $0.isLearner = m.isLearner(member) }
            }
        }
        if leadTransferee != 0, !m.isVoter(leadTransferee) { abortLeaderTransfer() }
    }

    /// A leader whose removal committed hands leadership to the most up-to-date voter and
    /// steps down (thesis §4.2.2).
    mutating func handOffAfterRemoval() {
        var best: NodeID = 0
        var bestMatch: UInt64 = 0
        for v in log.membership.voters where v != id {
            if let m = progress[v]?.match, m > bestMatch { (best, bestMatch) = (v, m) }
        }
        if best != 0, bestMatch == log.lastIndex { send(to: best, .timeoutNow) }
        becomeFollower(term: term, leader: 0)
    }

    // MARK: Leadership transfer (thesis §3.10)

    /// Hands leadership to `target`: the leader stops accepting proposals, brings the target's
    /// log up to date, then sends it TimeoutNow so it campaigns at once. The transfer is
    /// abandoned after an election timeout (thesis §3.10).
    public mutating func transferLeadership(to target: NodeID) throws(RaftError) {
        guard role == .leader else { throw RaftError(.notLeader, leaderHint: leaderID == 0 ? nil : leaderID) }
        guard target != id, log.membership.isVoter(target), progress[target] != nil else {
            throw RaftError(.invalidTransferTarget)
        }
        if leadTransferee == target { return }
        leadTransferee = target
        transferElapsed = 0
        if progress[target]?.match == log.lastIndex {
            send(to: target, .timeoutNow)
        } else {
            sendAppend(to: target, sendIfEmpty: true)
        }
    }

    /// The transfer target while a transfer is in progress, or 0.
    public var transferTarget: NodeID { leadTransferee }

    mutating func abortLeaderTransfer() {
        leadTransferee = 0
        transferElapsed = 0
    }
}
