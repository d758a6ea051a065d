/// A Raft RPC or response travelling between two servers (paper Figure 2; thesis chapters 3–6).
///
/// Every message carries the sender's term: a receiver with a lower term adopts it (§5.1), and a
/// receiver with a higher term rejects or ignores the message.
public struct Message: Sendable, Hashable {
    public var from: NodeID
    public var to: NodeID
    public var term: UInt64
    public var payload: MessagePayload

    public init(from: NodeID, to: NodeID, term: UInt64, payload: MessagePayload) {
        self.from = from
        self.to = to
        self.term = term
        self.payload = payload
    }
}

/// The body of a ``Message``.
public enum MessagePayload: Sendable, Hashable {
    /// Pre-vote request (thesis §9.6): "would you vote for me in `term`?" without disrupting anyone.
    /// The message's term is the candidate's term + 1.
    case preVote(lastIndex: UInt64, lastTerm: UInt64)
    case preVoteResponse(granted: Bool)
    /// RequestVote (paper §5.2, §5.4.1). `transfer` marks a campaign started by TimeoutNow, which
    /// voters honour even while they still hear from a leader (thesis §3.10, §4.2.3).
    case vote(lastIndex: UInt64, lastTerm: UInt64, transfer: Bool)
    case voteResponse(granted: Bool)
    /// AppendEntries (paper §5.3).
    case append(prevIndex: UInt64, prevTerm: UInt64, entries: [Entry], commit: UInt64)
    /// AppendEntries response. On success `index` is the follower's last matching index. On
    /// rejection `index` is the rejected `prevIndex`, and (`hintIndex`, `hintTerm`) is the
    /// follower's last entry at or below it whose term is at most the leader's `prevTerm`, so
    /// the leader can skip a whole term per round trip (paper §5.3, "optimization").
    case appendResponse(index: UInt64, reject: Bool, hintIndex: UInt64, hintTerm: UInt64)
    /// Leader heartbeat (paper §5.2) carrying a commit index safe for the follower and the
    /// leader's current ReadIndex round (thesis §6.4), 0 when none.
    case heartbeat(commit: UInt64, readRound: UInt64)
    case heartbeatResponse(readRound: UInt64)
    /// One chunk of InstallSnapshot (paper §7, Figure 13).
    case snapshotChunk(metadata: SnapshotMetadata, totalBytes: UInt64, offset: UInt64, data: [UInt8], done: Bool)
    /// InstallSnapshot progress: `nextOffset` is the byte the follower expects next (0 restarts
    /// the transfer); `installedIndex` is non-zero once the snapshot is durably installed.
    case snapshotResponse(snapshotIndex: UInt64, nextOffset: UInt64, installedIndex: UInt64)
    /// Leadership transfer (thesis §3.10): start an election now.
    case timeoutNow
    /// A follower asks the leader for a ReadIndex on behalf of its clients (thesis §6.4).
    case readIndex(contexts: [[UInt8]])
    /// The leader's answer to ``readIndex(contexts:)``.
    case readIndexResponse(contexts: [[UInt8]], index: UInt64)
}

extension MessagePayload {
    /// A follower's message that claims nothing about its durable state, so it need not wait
    /// for the follower's pending writes: a read forward, a heartbeat response (it carries a
    /// read round, no log position).
    var isDurabilityFree: Bool {
        switch self {
        case .readIndex, .heartbeatResponse: true
        default: false
        }
    }

    /// A short name for logs and test output.
    public var name: String {
        switch self {
        case .preVote: "preVote"
        case .preVoteResponse: "preVoteResponse"
        case .vote: "vote"
        case .voteResponse: "voteResponse"
        case .append: "append"
        case .appendResponse: "appendResponse"
        case .heartbeat: "heartbeat"
        case .heartbeatResponse: "heartbeatResponse"
        case .snapshotChunk: "snapshotChunk"
        case .snapshotResponse: "snapshotResponse"
        case .timeoutNow: "timeoutNow"
        case .readIndex: "readIndex"
        case .readIndexResponse: "readIndexResponse"
        }
    }
}

extension Message: CustomStringConvertible {
    public var description: String {
        var s = "\(from)->\(to) t\(term) "
        switch payload {
        case let .preVote(li, lt): s += "preVote last=\(li)/\(lt)"
        case let .preVoteResponse(g): s += "preVoteResponse granted=\(g)"
        case let .vote(li, lt, tr): s += "vote last=\(li)/\(lt)\(tr ? " transfer" : "")"
        case let .voteResponse(g): s += "voteResponse granted=\(g)"
        case let .append(pi, pt, es, c):
            s += "append prev=\(pi)/\(pt) entries=\(es.map { "\($0.index)/\($0.term)" }) commit=\(c)"
        case let .appendResponse(i, r, hi, ht):
            s += "appendResponse index=\(i)" + (r ? " reject hint=\(hi)/\(ht)" : "")
        case let .heartbeat(c, r): s += "heartbeat commit=\(c) round=\(r)"
        case let .heartbeatResponse(r): s += "heartbeatResponse round=\(r)"
        case let .snapshotChunk(m, total, off, d, done):
            s += "snapshotChunk \(m.index)/\(m.term) \(off)+\(d.count)/\(total)\(done ? " done" : "")"
        case let .snapshotResponse(si, no, ii): s += "snapshotResponse snap=\(si) next=\(no) installed=\(ii)"
        case .timeoutNow: s += "timeoutNow"
        case let .readIndex(cs): s += "readIndex n=\(cs.count)"
        case let .readIndexResponse(cs, i): s += "readIndexResponse n=\(cs.count) index=\(i)"
        }
        return s
    }
}
