import SeededRandom

/// One Raft server as a pure, deterministic state machine (Ongaro & Ousterhout 2014; Ongaro's
/// thesis 2014), in the inputs-in, actions-out shape of etcd/raft.
///
/// Inputs are method calls: ``tick()``, ``receive(_:)``, ``propose(_:)``,
/// ``proposeMembershipChange(_:)``, ``readIndex(context:)``, ``transferLeadership(to:)``,
/// ``persisted(upTo:term:)``, ``snapshotTaken(index:size:)``, ``compact(through:)``,
/// ``snapshotReceived(metadata:valid:)`` and ``resumeIncomingSnapshot(metadata:from:receivedBytes:)``.
/// Outputs accumulate and are
/// drained with ``ready()``; see ``Ready`` for the persistence contract the driver must honour.
/// There is no I/O, clock or thread here: time is the number of ticks, randomness is seeded by
/// ``RaftConfiguration/randomSeed``.
public struct RaftNode: Sendable {
    /// This server's id.
    public let id: NodeID
    /// The tunables this node was started with.
    public let configuration: RaftConfiguration

    var log: RaftLog
    /// Latest term seen (paper Figure 2, `currentTerm`).
    public internal(set) var term: UInt64
    /// Candidate voted for in `term`, or 0 (paper Figure 2, `votedFor`).
    public internal(set) var vote: NodeID
    /// Follower, pre-candidate, candidate or leader (paper §5.1, thesis §9.6).
    public internal(set) var role: RaftRole = .follower
    /// The leader of `term` if known, or 0.
    public internal(set) var leaderID: NodeID = 0

    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    var rng: SplitMix64

    // Candidate state.
    var votes: [NodeID: Bool] = [:]

    // Leader state.
    var progress = ProgressMap()
    var leadTransferee: NodeID = 0
    var transferElapsed = 0
    var uncommittedBytes = 0
    var reads = ReadIndexState()

    // Snapshot state.
    /// The latest snapshot file this node holds (taken locally or received), served to followers.
    var snapshot: Snapshot?
    var incomingSnapshot: IncomingSnapshot?
    var snapshotToInstall: SnapshotMetadata?

    // Output bookkeeping.
    var out = Ready()
    var forwardedReads: [[UInt8]] = []
    var lastHardState: HardState
    var lastSoftState: SoftState

    /// Restarts (or first starts) a node from the state its driver made durable.
    ///
    /// `entrySource` reads back entries the node no longer keeps in memory (see
    /// ``LogEntrySource``); with it the in-memory log is bounded by
    /// ``RaftConfiguration/maxInMemoryLogBytes`` and `state` may hold only the unapplied tail
    /// of the log (``PersistentState/outline``). Without it every entry since the last
    /// compaction stays in memory and `state.entries` must hold them all.
    public init(id: NodeID, configuration: RaftConfiguration, state: PersistentState,
                entrySource: (any LogEntrySource)? = nil) {
        precondition(id != 0, "node id 0 is reserved")
        self.id = id
        self.configuration = configuration
        let meta = state.snapshot ?? SnapshotMetadata()
        log = RaftLog(snapshot: meta, outline: state.outline, tail: state.entries, commit: state.hardState.commit,
                      applied: state.appliedIndex, source: entrySource,
                      maxCachedBytes: configuration.maxInMemoryLogBytes)
        term = state.hardState.term
        vote = state.hardState.vote
        snapshot = state.availableSnapshot
        rng = SplitMix64(seed: configuration.randomSeed ^ (id &* 0x9E37_79B9_7F4A_7C15))
        lastHardState = state.hardState
        lastSoftState = SoftState(role: .follower, leader: 0, term: state.hardState.term)
        resetElectionTimer()
    }

    // MARK: Inspection

    /// Highest index known committed (paper Figure 2, `commitIndex`).
    public var commitIndex: UInt64 { log.commitIndex }
    /// Highest index handed out in ``Ready/committedEntries`` (or covered by a snapshot).
    public var appliedIndex: UInt64 { log.appliedIndex }
    /// Index of the last entry in the log (durable or not).
    public var lastIndex: UInt64 { log.lastIndex }
    /// Term of the last entry in the log.
    public var lastTerm: UInt64 { log.lastTerm }
    /// Highest index the driver reported durable.
    public var stableIndex: UInt64 { log.stableIndex }
    /// First index still in the log (entries below it are compacted into the snapshot).
    public var firstIndex: UInt64 { log.firstIndex }
    /// The membership in effect: the latest in the log, committed or not (thesis §4.1).
    public var membership: Membership { log.membership }
    /// The current term, vote and commit index, as they will be persisted.
    public var hardState: HardState { HardState(term: term, vote: vote, commit: log.commitIndex) }
    /// The term of the entry at `index`, or nil if compacted or absent.
    public func term(at index: UInt64) -> UInt64? { log.term(at: index) }
    /// The entry at `index`, or nil if compacted or absent (read back from the
    /// ``LogEntrySource`` if it is no longer in memory).
    public func entry(at index: UInt64) -> Entry? { log.entry(at: index) }
    /// Bytes of log entries held in memory (bounded by
    /// ``RaftConfiguration/maxInMemoryLogBytes`` when the node has a ``LogEntrySource``).
    public var inMemoryLogBytes: Int { log.cachedBytes }
    /// First index whose entry is held in memory (``lastIndex`` + 1 when none is).
    public var firstInMemoryIndex: UInt64 { log.cacheStart }
    /// Whether this node may start elections: it is a voter in its latest membership.
    public var isPromotable: Bool { log.membership.isVoter(id) }

    // MARK: Output

    /// Whether ``ready()`` has anything to hand out.
    public var hasReady: Bool {
        !out.isEmpty || !forwardedReads.isEmpty || snapshotToInstall != nil || log.emittedIndex < log.lastIndex
            || hardState != lastHardState || log.hasCommittedToApply || currentSoftState != lastSoftState
    }

    var currentSoftState: SoftState { SoftState(role: role, leader: leaderID, term: term) }

    /// Drains everything the node wants done since the previous call. See ``Ready``.
    public mutating func ready() -> Ready {
        if !forwardedReads.isEmpty {
            if leaderID != 0, leaderID != id, role == .follower {
                send(to: leaderID, .readIndex(contexts: forwardedReads))
            } else {
                out.abandonedReads += forwardedReads
            }
            forwardedReads = []
        }
        var r = out
        out = Ready()
        r.snapshot = snapshotToInstall
        snapshotToInstall = nil
        r.entries = log.takeUnemitted()
        let hs = hardState
        if hs != lastHardState {
            r.hardState = hs
            lastHardState = hs
        }
        r.committedEntries = log.takeCommittedEntries(maxBytes: configuration.maxMessageBytes * 4)
        let ss = currentSoftState
        if ss != lastSoftState {
            r.softState = ss
            lastSoftState = ss
        }
        return r
    }

    /// Queues a message. Only a leader's messages skip the wait for local durability (thesis
    /// §10.2.1); read forwards and heartbeat responses claim nothing durable and skip it too
    /// (as in etcd/raft): a follower busy writing a large entry still answers heartbeats, so
    /// its leader's check-quorum keeps hearing it.
    mutating func send(to: NodeID, _ payload: MessagePayload, term: UInt64? = nil) {
        let m = Message(from: id, to: to, term: term ?? self.term, payload: payload)
        if role == .leader {
            out.messages.append(m)
        } else if payload.isDurabilityFree {
            out.messages.append(m)
        } else {
            out.messagesAfterPersist.append(m)
        }
    }

    // MARK: Durability and time

    /// The driver made entries up to `index` (of `term`) durable. On the leader this is what lets
    /// its own log count toward commitment (thesis §10.2.1).
    public mutating func persisted(upTo index: UInt64, term: UInt64) {
        guard log.stableTo(index: index, term: term) else { return }
        if role == .leader, maybeCommit() { broadcastAppend(sendIfEmpty: true) }
    }

    /// Advances logical time by one tick: election timeout for followers and candidates,
    /// heartbeats and check-quorum for the leader (paper §5.2; thesis §6.2).
    public mutating func tick() {
        log.retryReads()
        if role == .leader { tickLeader() } else { tickElection() }
    }

    mutating func resetElectionTimer() {
        electionElapsed = 0
        let span = UInt64(max(configuration.electionTicks, 1))
        randomizedElectionTimeout = configuration.electionTicks + Int(rng.next() % span)
    }
}

/// Leader-side progress of each other member, iterated in id order so runs are deterministic.
struct ProgressMap: Sendable {
    private(set) var ids: [NodeID] = []
    private var values: [Progress] = []

    subscript(id: NodeID) -> Progress? {
        get { ids.firstIndex(of: id).map { values[$0] } }
        set {
            if let i = ids.firstIndex(of: id) {
                if let v = newValue { values[i] = v } else {
                    ids.remove(at: i)
                    values.remove(at: i)
                }
            } else if let v = newValue {
                let i = ids.firstIndex(where: { $0 > id }) ?? ids.count
                ids.insert(id, at: i)
                values.insert(v, at: i)
            }
        }
    }

    /// Mutates one follower's progress in place.
    mutating func with<R>(_ id: NodeID, _ body: (inout Progress) -> R) -> R? {
        guard let i = ids.firstIndex(of: id) else { return nil }
        return body(&values[i])
    }

    mutating func removeAll() {
        ids = []
        values = []
    }
}
