/// A server's identity in the Raft group. `0` is reserved to mean "no node".
public typealias NodeID = UInt64

/// What a log entry carries (Raft paper §5.3; thesis §4.1 for configuration entries, §6.4 for
/// the no-op a new leader appends).
public enum EntryKind: UInt8, Sendable, Hashable {
    /// An opaque state-machine command.
    case normal = 0
    /// A membership change; `data` is an encoded ``ConfigurationEntry`` (the resulting
    /// ``Membership`` and the driver's context).
    case configuration = 1
    /// The no-op a leader appends at the start of its term so it can commit (§5.4.2, §8).
    case empty = 2
}

/// One entry of the replicated log (paper §5.3).
public struct Entry: Sendable, Hashable {
    /// The term in which a leader created the entry.
    public var term: UInt64
    /// The entry's position in the log, starting at 1.
    public var index: UInt64
    public var kind: EntryKind
    /// Opaque command bytes for `.normal`; an encoded ``ConfigurationEntry`` for `.configuration`.
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// Bytes the entry counts for in flow control and the uncommitted cap.
    @inlinable public var sizeInBytes: Int { data.count + 24 }
}

/// The state a server must make durable before answering RPCs (paper Figure 2, "Persistent
/// state on all servers"). `commit` is persisted as a restart hint only.
public struct HardState: Sendable, Hashable {
    public var term: UInt64
    /// Candidate voted for in `term`, or 0.
    public var vote: NodeID
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: NodeID = 0, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// The voting and non-voting members of the group (thesis §4.1 and §4.2.1).
///
/// A server uses the latest membership in its log, committed or not (thesis §4.1).
public struct Membership: Sendable, Hashable {
    /// Members whose votes count for elections and commitment. Kept sorted.
    public private(set) var voters: [NodeID]
    /// Members that receive the log but do not vote (thesis §4.2.1). Kept sorted.
    public private(set) var learners: [NodeID]

    public init(voters: [NodeID] = [], learners: [NodeID] = []) {
        self.voters = Array(Set(voters)).sorted()
        self.learners = Array(Set(learners).subtracting(voters)).sorted()
    }

    public var isEmpty: Bool { voters.isEmpty && learners.isEmpty }
    public func isVoter(_ id: NodeID) -> Bool { voters.contains(id) }
    public func isLearner(_ id: NodeID) -> Bool { learners.contains(id) }
    public func contains(_ id: NodeID) -> Bool { isVoter(id) || isLearner(id) }
    /// Every member, voters first.
    public var allMembers: [NodeID] { voters + learners }
    /// Votes needed for a majority of the voters.
    public var quorum: Int { voters.count / 2 + 1 }

    /// The membership after `change`, or `nil` if the change does not apply to this membership.
    public func applying(_ change: MembershipChange) -> Membership? {
        switch change {
        case .addLearner(let id):
            guard id != 0, !contains(id) else { return nil }
            return Membership(voters: voters, learners: learners + [id])
        case .promote(let id):
            guard isLearner(id) else { return nil }
            return Membership(voters: voters + [id], learners: learners.filter { $0 != id })
        case .remove(let id):
            guard contains(id) else { return nil }
            let newVoters = voters.filter { $0 != id }
            guard !newVoters.isEmpty else { return nil }
            return Membership(voters: newVoters, learners: learners.filter { $0 != id })
        }
    }
}

/// A single-server membership change (thesis §4.2 and §4.3): at most one voter is added or
/// removed per change, so every majority of the old configuration overlaps every majority of
/// the new one and no joint consensus is needed.
public enum MembershipChange: Sendable, Hashable {
    /// Add a non-voting member that catches up before it can affect commitment (thesis §4.2.1).
    case addLearner(NodeID)
    /// Turn a learner into a voter.
    case promote(NodeID)
    /// Remove a voter or learner, possibly the leader itself (thesis §4.2.2).
    case remove(NodeID)
}

/// Describes the state captured by a snapshot (paper §7; thesis §5).
public struct SnapshotMetadata: Sendable, Hashable {
    /// The last log index the snapshot replaces.
    public var index: UInt64
    /// The term of the entry at `index`.
    public var term: UInt64
    /// The latest membership at or before `index`.
    public var membership: Membership

    public init(index: UInt64 = 0, term: UInt64 = 0, membership: Membership = Membership()) {
        self.index = index
        self.term = term
        self.membership = membership
    }
}

/// A state-machine snapshot the driver holds as a file (paper §7): what it captures and its
/// size in bytes. The bytes never enter the core; chunks of them are read and written by the
/// driver (``SnapshotChunkRead``, ``ReceivedSnapshotChunk``).
public struct Snapshot: Sendable, Hashable {
    public var metadata: SnapshotMetadata
    /// Bytes in the snapshot file.
    public var size: UInt64

    public init(metadata: SnapshotMetadata, size: UInt64) {
        self.metadata = metadata
        self.size = size
    }
}

/// The role a server currently plays (paper §5.1; pre-candidate is thesis §9.6).
public enum RaftRole: UInt8, Sendable, Hashable {
    case follower, preCandidate, candidate, leader
}

/// A confirmed ReadIndex (thesis §6.4): once the local state machine has applied `index`,
/// a read tagged `context` may be served linearizably from local state.
public struct ReadState: Sendable, Hashable {
    public var context: [UInt8]
    public var index: UInt64

    public init(context: [UInt8], index: UInt64) {
        self.context = context
        self.index = index
    }
}
