// Message dispatch: term checks first (paper §5.1), then by role.

extension RaftNode {
    /// Handles one message from a peer. Messages for other nodes are ignored; duplicated,
    /// delayed and reordered messages are safe (paper §5.5).
    public mutating func receive(_ m: Message) {
        guard m.to == id, m.from != id, m.from != 0 else { return }
        guard checkTerm(m) else { return }
        switch m.payload {
        case .preVote, .vote:
            handleVoteRequest(m)
        case .preVoteResponse(let granted):
            handleVoteResponse(m, granted: granted, pre: true)
        case .voteResponse(let granted):
            handleVoteResponse(m, granted: granted, pre: false)
        case .append, .heartbeat, .snapshotChunk:
            if role == .leader { return }  // Cannot happen: one leader per term (§5.2).
            if role != .follower { becomeFollower(term: term, leader: m.from) }
            electionElapsed = 0
            leaderID = m.from
            switch m.payload {
            case let .append(prevIndex, prevTerm, entries, commit):
                handleAppend(from: m.from, prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, commit: commit)
            case let .heartbeat(commit, round):
                handleHeartbeat(from: m.from, commit: commit, round: round)
            case let .snapshotChunk(meta, total, offset, data, done):
                handleSnapshotChunk(from: m.from, meta: meta, total: total, offset: offset, data: data, done: done)
            default: break
            }
        case let .appendResponse(index, reject, hintIndex, hintTerm):
            guard role == .leader else { return }
            handleAppendResponse(from: m.from, index: index, reject: reject, hintIndex: hintIndex, hintTerm: hintTerm)
        case .heartbeatResponse(let round):
            guard role == .leader else { return }
            handleHeartbeatResponse(from: m.from, round: round)
        case let .snapshotResponse(snapshotIndex, nextOffset, installedIndex):
            guard role == .leader else { return }
            handleSnapshotResponse(from: m.from, snapshotIndex: snapshotIndex, nextOffset: nextOffset, installedIndex: installedIndex)
        case .timeoutNow:
            guard role != .leader else { return }
            startElection(preVote: false, transfer: true)
        case .readIndex(let contexts):
            guard role == .leader else { return }
            for c in contexts { leaderRead(context: c, from: m.from) }
        case let .readIndexResponse(contexts, index):
            guard role == .follower else { return }
            for c in contexts { out.readStates.append(ReadState(context: c, index: index)) }
        }
    }
}
