// Leader election (paper §5.2, §5.4.1), pre-vote (thesis §9.6), check-quorum and the leader
// lease that stops disruptive servers (thesis §6.2, §4.2.3).

extension RaftNode {
    mutating func tickElection() {
        electionElapsed += 1
        if isPromotable, electionElapsed >= randomizedElectionTimeout {
            resetElectionTimer()
            campaign(transfer: false)
        }
    }

    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if leadTransferee != 0 {
            transferElapsed += 1
            if transferElapsed >= configuration.electionTicks { abortLeaderTransfer() }
        }
        if electionElapsed >= configuration.electionTicks {
            electionElapsed = 0
            if configuration.checkQuorum, !hasActiveQuorum() {
                becomeFollower(term: term, leader: 0)
                return
            }
        }
        if heartbeatElapsed >= configuration.heartbeatTicks {
            heartbeatElapsed = 0
            broadcastHeartbeat()
        }
    }

    /// Check-quorum (thesis §6.2): did a majority of voters talk to us in the last election timeout?
    mutating func hasActiveQuorum() -> Bool {
        let voters = log.membership.voters
        var active = 0
        for v in voters {
            if v == id {
                active += 1
            } else if progress.with(v, { pr in
                defer { pr.recentActive = false }
                return pr.recentActive
            }) == true {
                active += 1
            }
        }
        for other in progress.ids where !voters.contains(other) {
            progress.with(other) { $0.recentActive = false }
        }
        return active >= log.membership.quorum
    }

    /// Starts an election now, as if the election timeout fired: a pre-vote round first when
    /// enabled (thesis §9.6). `transfer` marks a campaign ordered by TimeoutNow (thesis §3.10),
    /// which skips pre-vote and overrides the voters' leader lease.
    public mutating func campaign(transfer: Bool = false) {
        startElection(preVote: configuration.preVote && !transfer, transfer: transfer)
    }

    mutating func startElection(preVote: Bool, transfer: Bool) {
        guard isPromotable, role != .leader else { return }
        let voteTerm: UInt64
        if preVote {
            becomePreCandidate()
            voteTerm = term + 1
        } else {
            becomeCandidate()
            voteTerm = term
        }
        if poll(id, granted: true) == .won {
            if role == .preCandidate { startElection(preVote: false, transfer: transfer) } else { becomeLeader() }
            return
        }
        for voter in log.membership.voters where voter != id {
            if role == .preCandidate {
                send(to: voter, .preVote(lastIndex: log.lastIndex, lastTerm: log.lastTerm), term: voteTerm)
            } else {
                send(to: voter, .vote(lastIndex: log.lastIndex, lastTerm: log.lastTerm, transfer: transfer), term: voteTerm)
            }
        }
    }

    enum PollResult { case pending, won, lost }

    mutating func poll(_ from: NodeID, granted: Bool) -> PollResult {
        if votes[from] == nil { votes[from] = granted }
        let voters = log.membership.voters
        var yes = 0
        var no = 0
        for v in voters {
            switch votes[v] {
            case true?: yes += 1
            case false?: no += 1
            case nil: break
            }
        }
        if yes >= log.membership.quorum { return .won }
        if no > voters.count - log.membership.quorum { return .lost }
        return .pending
    }

    /// Common handling of a message's term before it is dispatched (paper §5.1, thesis §9.6).
    /// Returns false when the message must be dropped.
    mutating func checkTerm(_ m: Message) -> Bool {
        if m.term > term {
            switch m.payload {
            case .preVote, .vote:
                var force = false
                if case .vote(_, _, let transfer) = m.payload { force = transfer }
                let inLease = configuration.checkQuorum && leaderID != 0 && electionElapsed < configuration.electionTicks
                if !force, inLease { return false }
            default: break
            }
            switch m.payload {
            case .preVote: break
            case .preVoteResponse(granted: true): break
            case .append, .heartbeat, .snapshotChunk: becomeFollower(term: m.term, leader: m.from)
            case .vote:
                // Keep the election timer running: it restarts only when a vote is granted or a
                // leader is heard (paper Figure 2). Otherwise a candidate with a stale log and a
                // fast clock could keep resetting the one server able to win.
                let elapsed = electionElapsed
                becomeFollower(term: m.term, leader: 0)
                electionElapsed = elapsed
            default: becomeFollower(term: m.term, leader: 0)
            }
        } else if m.term < term {
            switch m.payload {
            case .append, .heartbeat, .snapshotChunk:
                // Tell a stale leader about the newer term so it steps down (needed with
                // check-quorum/pre-vote, where its own elections cannot raise its term).
                send(to: m.from, .heartbeatResponse(readRound: 0))
            case .preVote:
                send(to: m.from, .preVoteResponse(granted: false))
            case .vote:
                // Paper Figure 2: the reply carries currentTerm so a candidate stuck in an old
                // term (its requests always stale) catches up instead of campaigning forever.
                send(to: m.from, .voteResponse(granted: false))
            default: break
            }
            return false
        }
        return true
    }

    mutating func handleVoteRequest(_ m: Message) {
        let isPre: Bool
        let lastIndex: UInt64
        let lastTerm: UInt64
        switch m.payload {
        case let .preVote(li, lt): (isPre, lastIndex, lastTerm) = (true, li, lt)
        case let .vote(li, lt, _): (isPre, lastIndex, lastTerm) = (false, li, lt)
        default: return
        }
        let canVote = vote == m.from || (vote == 0 && leaderID == 0) || (isPre && m.term > term)
        if canVote, log.isUpToDate(lastIndex: lastIndex, lastTerm: lastTerm) {
            if isPre {
                send(to: m.from, .preVoteResponse(granted: true), term: m.term)
            } else {
                vote = m.from
                electionElapsed = 0
                send(to: m.from, .voteResponse(granted: true), term: m.term)
            }
        } else {
            send(to: m.from, isPre ? .preVoteResponse(granted: false) : .voteResponse(granted: false))
        }
    }

    mutating func handleVoteResponse(_ m: Message, granted: Bool, pre: Bool) {
        guard (pre && role == .preCandidate) || (!pre && role == .candidate) else { return }
        switch poll(m.from, granted: granted) {
        case .won: if pre { startElection(preVote: false, transfer: false) } else { becomeLeader() }
        case .lost: becomeFollower(term: term, leader: 0)
        case .pending: break
        }
    }

    // MARK: Role transitions

    mutating func reset(term newTerm: UInt64) {
        if newTerm != term {
            term = newTerm
            vote = 0
        }
        if role == .leader { abandonLeaderReads() }
        leaderID = 0
        resetElectionTimer()
        heartbeatElapsed = 0
        votes = [:]
        progress.removeAll()
        leadTransferee = 0
        transferElapsed = 0
        uncommittedBytes = 0
    }

    mutating func becomeFollower(term newTerm: UInt64, leader: NodeID) {
        reset(term: newTerm)
        role = .follower
        leaderID = leader
    }

    mutating func becomePreCandidate() {
        // Pre-vote changes neither term nor vote (thesis §9.6).
        if role == .leader { abandonLeaderReads() }
        role = .preCandidate
        leaderID = 0
        votes = [:]
        resetElectionTimer()
    }

    mutating func becomeCandidate() {
        reset(term: term + 1)
        vote = id
        role = .candidate
    }

    mutating func becomeLeader() {
        reset(term: term)
        role = .leader
        leaderID = id
        syncProgress()
        for pid in progress.ids { progress.with(pid) { $0.recentActive = true } }
        // The no-op entry lets the leader commit, and so learn the commit index, in its term (§8).
        appendAsLeader(kind: .empty, data: [])
        broadcastAppend(sendIfEmpty: true)
    }
}
