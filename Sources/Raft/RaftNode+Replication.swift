// Log replication (paper §5.3) with pipelining and flow control, fast backtracking, and
// commitment of current-term entries only (§5.4.2), the leader counting its own log once
// durable (thesis §10.2.1).

extension RaftNode {
    // MARK: Proposals

    /// Appends a state-machine command to the leader's log (paper §5.3). Returns where it was
    /// appended; it is committed once ``Ready/committedEntries`` contains that index with that
    /// term. Rejected with a typed reason when this node is not the leader (with a hint), when a
    /// transfer is under way (thesis §3.10), or when uncommitted entries exceed
    /// ``RaftConfiguration/maxUncommittedBytes``.
    public mutating func propose(_ data: [UInt8]) throws(RaftError) -> LogPosition {
        try checkCanPropose(bytes: data.count + 24)
        let pos = appendAsLeader(kind: .normal, data: data)
        broadcastAppend(sendIfEmpty: false)
        return pos
    }

    /// Appends several commands at once (group commit: one replication round carries them all).
    /// All or none are accepted.
    public mutating func propose(batch: [[UInt8]]) throws(RaftError) -> [LogPosition] {
        try checkCanPropose(bytes: batch.reduce(0) { $0 + $1.count + 24 })
        let positions = batch.map { appendAsLeader(kind: .normal, data: $0) }
        broadcastAppend(sendIfEmpty: false)
        return positions
    }

    func checkCanPropose(bytes: Int) throws(RaftError) {
        guard role == .leader else { throw RaftError(.notLeader, leaderHint: leaderID == 0 ? nil : leaderID) }
        guard leadTransferee == 0 else { throw RaftError(.transferInProgress, leaderHint: leadTransferee) }
        if uncommittedBytes > 0, uncommittedBytes + bytes > configuration.maxUncommittedBytes {
            throw RaftError(.uncommittedLimit)
        }
    }

    @discardableResult
    mutating func appendAsLeader(kind: EntryKind, data: [UInt8]) -> LogPosition {
        let e = Entry(term: term, index: log.lastIndex + 1, kind: kind, data: data)
        uncommittedBytes += e.sizeInBytes
        log.append([e])
        if kind == .configuration { syncProgress() }
        return LogPosition(index: e.index, term: e.term)
    }

    // MARK: Leader: sending

    mutating func broadcastAppend(sendIfEmpty: Bool) {
        for pid in progress.ids {
            if sendAppend(to: pid, sendIfEmpty: sendIfEmpty) {
                while sendAppend(to: pid, sendIfEmpty: false) {}
            }
        }
    }

    /// Sends the next batch of entries to `to` if its flow control allows; falls back to a
    /// snapshot when the entries it needs are compacted (paper §7). Returns whether it sent.
    @discardableResult
    mutating func sendAppend(to: NodeID, sendIfEmpty: Bool) -> Bool {
        guard let pr = progress[to], !pr.isPaused(configuration) else { return false }
        let prevIndex = pr.next - 1
        guard let prevTerm = log.term(at: prevIndex) else {
            return sendSnapshot(to: to)
        }
        let entries = Array(log.entries(from: pr.next, maxCount: configuration.maxEntriesPerMessage,
                                         maxBytes: configuration.maxMessageBytes))
        if entries.isEmpty, !sendIfEmpty { return false }
        progress.with(to) { pr in
            if let last = entries.last {
                switch pr.state {
                case .replicate:
                    pr.next = last.index + 1
                    pr.inflight.add(last: last.index, count: entries.count, bytes: entries.reduce(0) { $0 + $1.sizeInBytes })
                case .probe:
                    pr.probeSent = true
                    pr.unackedHeartbeats = 0
                case .snapshot: break
                }
            } else if pr.state == .probe {
                pr.probeSent = true
                pr.unackedHeartbeats = 0
            }
        }
        send(to: to, .append(prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, commit: log.commitIndex))
        return !entries.isEmpty
    }

    mutating func broadcastHeartbeat() {
        let round = reads.outstanding.isEmpty ? 0 : reads.round
        for pid in progress.ids {
            guard let pr = progress[pid] else { continue }
            send(to: pid, .heartbeat(commit: min(pr.match, log.commitIndex), readRound: round))
            if pr.state == .snapshot { resendSnapshotChunkIfStuck(to: pid) }
        }
    }

    // MARK: Leader: responses

    mutating func handleAppendResponse(from: NodeID, index: UInt64, reject: Bool, hintIndex: UInt64, hintTerm: UInt64) {
        guard progress[from] != nil else { return }
        progress.with(from) { $0.recentActive = true }
        if reject {
            var nextProbe = hintIndex
            if hintTerm > 0 { nextProbe = log.findConflictByTerm(index: hintIndex, term: hintTerm).index }
            let retry = progress.with(from) { pr -> Bool in
                guard pr.maybeDecrease(rejected: index, matchHint: nextProbe) else { return false }
                if pr.state == .replicate { pr.becomeProbe() }
                return true
            } ?? false
            if retry { sendAppend(to: from, sendIfEmpty: true) }
            return
        }
        let wasPaused = progress[from]!.isPaused(configuration)
        let updated = progress.with(from) { pr -> Bool in
            let moved = pr.maybeUpdate(index)
            pr.ackedSinceHeartbeat = true
            switch pr.state {
            // An acknowledgement at the match point also ends probing (for example the probe
            // right after a snapshot, whose index was already recorded as the match).
            case .probe: if moved || index == pr.match { pr.becomeReplicate() }
            case .snapshot: if let t = pr.snapshotTransfer, pr.match >= t.index { pr.becomeReplicate() }
            case .replicate: pr.inflight.free(upTo: index)
            }
            return moved
        } ?? false
        if updated, maybeCommit() {
            broadcastAppend(sendIfEmpty: true)
        } else {
            // A follower that was paused may not know the commit index yet: tell it, even empty.
            if wasPaused || progress[from]!.match < log.lastIndex { sendAppend(to: from, sendIfEmpty: wasPaused) }
            while sendAppend(to: from, sendIfEmpty: false) {}
        }
        if from == leadTransferee, progress[from]?.match == log.lastIndex {
            send(to: from, .timeoutNow)
        }
    }

    /// Heartbeat responses without an acknowledgement after which an append counts as lost:
    /// an election timeout's worth, and at least two.
    var stallHeartbeats: Int { max(2, configuration.electionTicks / max(configuration.heartbeatTicks, 1)) }

    mutating func handleHeartbeatResponse(from: NodeID, round: UInt64) {
        guard progress[from] != nil else { return }
        // Heartbeat responses do not wait for the follower's writes, so appends outstanding
        // through a few of them may only be slow to write (a large entry on a slow disk).
        // Through an election timeout of them, one was most likely lost: probe again, at most
        // once per such stall, so a follower slow to write is not sent the same entries at
        // every heartbeat.
        let stall = stallHeartbeats
        let probing = progress.with(from) { pr -> Bool in
            pr.recentActive = true
            let awaiting = switch pr.state {
            case .probe: pr.probeSent
            case .replicate: !pr.inflight.isEmpty && !pr.ackedSinceHeartbeat
            case .snapshot: false
            }
            if awaiting {
                pr.unackedHeartbeats += 1
                if pr.unackedHeartbeats >= stall {
                    if pr.state == .probe {
                        pr.probeSent = false
                        pr.unackedHeartbeats = 0
                    } else {
                        pr.becomeProbe()
                    }
                }
            } else {
                pr.unackedHeartbeats = 0
            }
            pr.ackedSinceHeartbeat = false
            return pr.state == .probe
        }!
        if progress[from]!.match < log.lastIndex {
            sendAppend(to: from, sendIfEmpty: probing)
            while sendAppend(to: from, sendIfEmpty: false) {}
        }
        if round != 0 { ackRead(from: from, round: round) }
    }

    /// Advances the commit index to the highest index stored on a majority of voters, if that
    /// entry is from the current term (§5.4.2). The leader's own log counts only up to what the
    /// driver reported durable (thesis §10.2.1).
    mutating func maybeCommit() -> Bool {
        let voters = log.membership.voters
        guard !voters.isEmpty else { return false }
        var matches: [UInt64] = []
        matches.reserveCapacity(voters.count)
        for v in voters { matches.append(v == id ? log.stableIndex : progress[v]?.match ?? 0) }
        matches.sort(by: >)
        let candidate = matches[log.membership.quorum - 1]
        guard candidate > log.commitIndex, log.term(at: candidate) == term else { return false }
        let old = log.commitIndex
        log.commitIndex = candidate
        var freed = 0
        for e in log.entries(from: old + 1, maxCount: Int(candidate - old), maxBytes: Int.max) where e.term == term {
            freed += e.sizeInBytes
        }
        uncommittedBytes = max(0, uncommittedBytes - freed)
        afterCommit(from: old)
        return true
    }

    /// Work that waits for commitment: ReadIndex needs a committed entry of this term (thesis
    /// §6.4), and a leader removed from the membership steps down once that is committed (§4.2.2).
    mutating func afterCommit(from old: UInt64) {
        if log.term(at: old) != term { releaseReadsAwaitingCommit() }
        if !log.membership.isVoter(id), log.membershipIndex <= log.commitIndex {
            handOffAfterRemoval()
        }
    }

    // MARK: Follower

    mutating func handleAppend(from: NodeID, prevIndex: UInt64, prevTerm: UInt64, entries: [Entry], commit: UInt64) {
        if prevIndex < log.commitIndex {
            send(to: from, .appendResponse(index: log.commitIndex, reject: false, hintIndex: 0, hintTerm: 0))
            return
        }
        if let lastNew = log.maybeAppend(prevIndex: prevIndex, prevTerm: prevTerm, entries: entries) {
            log.commitIndex = max(log.commitIndex, min(commit, lastNew))
            send(to: from, .appendResponse(index: lastNew, reject: false, hintIndex: 0, hintTerm: 0))
        } else {
            let hint = log.findConflictByTerm(index: min(prevIndex, log.lastIndex), term: prevTerm)
            send(to: from, .appendResponse(index: prevIndex, reject: true, hintIndex: hint.index, hintTerm: hint.term))
        }
    }

    mutating func handleHeartbeat(from: NodeID, commit: UInt64, round: UInt64) {
        log.commitIndex = max(log.commitIndex, min(commit, log.lastIndex))
        send(to: from, .heartbeatResponse(readRound: round))
    }
}
