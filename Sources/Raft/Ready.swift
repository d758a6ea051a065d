/// Everything a node asks its driver to do, drained by ``RaftNode/ready()``.
///
/// The driver honours this order (paper Figure 2 "respond to RPCs only after updating stable
/// storage"; thesis §10.2.1 for the leader's parallel write):
/// 1. Send ``messages`` right away. They never depend on local durability: they are the leader's
///    appends and heartbeats, which may go out while the leader's own write of ``entries`` is in
///    flight, and read forwards. Serve ``snapshotChunkReads`` (leader): read each chunk from the
///    snapshot file, off the event loop, and send
///    ``RaftNode/snapshotChunkMessage(for:data:)``; a read that fails is simply not sent (the
///    core resends a chunk that gets no answer).
/// 2. Durably write ``snapshot`` (the new log start, replacing the whole log), then ``entries``
///    (the first entry's index truncates any stored suffix), then ``hardState``, atomically or
///    in that order; and append ``snapshotChunksReceived`` (follower) to the staging file of
///    their transfer. Writes of successive `Ready`s must complete in order.
/// 3. Once that write is durable: send ``messagesAfterPersist`` and call
///    ``RaftNode/persisted(upTo:term:)`` with ``persistedMark``. If a received chunk was the last
///    one (`done`), verify the staging file and call ``RaftNode/snapshotReceived(metadata:valid:)``.
/// 4. Apply ``committedEntries`` in order (all are already durable locally), after installing
///    ``snapshot`` if present. Serve ``readStates`` once applied through their index.
public struct Ready: Sendable {
    /// Term, vote and commit to persist, when they changed.
    public var hardState: HardState?
    /// A snapshot received from the leader and verified (``RaftNode/snapshotReceived(metadata:valid:)``):
    /// persist its metadata as the new log start, replacing the whole log, and restore the state
    /// machine from the verified staging file. That file becomes this node's snapshot to serve
    /// (``PersistentState/availableSnapshot`` after a restart).
    public var snapshot: SnapshotMetadata?
    /// Entries to append durably; `entries.first.index` replaces any stored entry at or above it.
    public var entries: [Entry] = []
    /// Messages that may be sent before the writes above are durable.
    public var messages: [Message] = []
    /// Messages that must wait until the writes above are durable.
    public var messagesAfterPersist: [Message] = []
    /// Leader: snapshot chunks to read from the snapshot file and send (one in flight per follower).
    public var snapshotChunkReads: [SnapshotChunkRead] = []
    /// Follower: snapshot chunks accepted from the leader, to append to the staging file as part
    /// of the write of step 2 (their acknowledgements are in ``messagesAfterPersist``).
    public var snapshotChunksReceived: [ReceivedSnapshotChunk] = []
    /// Entries to apply to the state machine, in log order.
    public var committedEntries: [Entry] = []
    /// Confirmed linearizable reads (thesis §6.4).
    public var readStates: [ReadState] = []
    /// Contexts of local reads dropped because this node stopped being leader; retry them.
    public var abandonedReads: [[UInt8]] = []
    /// Role and leader, when they changed.
    public var softState: SoftState?

    public init() {}

    /// The position to pass to ``RaftNode/persisted(upTo:term:)`` once the writes are durable.
    public var persistedMark: LogPosition? {
        if let last = entries.last { return LogPosition(index: last.index, term: last.term) }
        if let s = snapshot { return LogPosition(index: s.index, term: s.term) }
        return nil
    }

    /// Whether anything must be written durably before ``messagesAfterPersist`` go out.
    public var needsPersist: Bool {
        hardState != nil || snapshot != nil || !entries.isEmpty || !snapshotChunksReceived.isEmpty
    }

    public var isEmpty: Bool {
        !needsPersist && messages.isEmpty && messagesAfterPersist.isEmpty && committedEntries.isEmpty
            && readStates.isEmpty && abandonedReads.isEmpty && softState == nil && snapshotChunkReads.isEmpty
    }
}

/// A log position (index and the term of the entry there).
public struct LogPosition: Sendable, Hashable {
    public var index: UInt64
    public var term: UInt64
    public init(index: UInt64, term: UInt64) {
        self.index = index
        self.term = term
    }
}

/// Volatile role information, reported when it changes.
public struct SoftState: Sendable, Hashable {
    public var role: RaftRole
    /// The known leader of the current term, or 0.
    public var leader: NodeID
    public var term: UInt64
}

/// What a node restarts from: everything its driver made durable.
///
/// Restarting a node with a long stored log (design choice): the core does not need every entry
/// in memory. The driver passes the log's ``outline`` (last index, the term of every entry as
/// runs, the configuration entries: one streaming pass over the stored log, or kept up to date
/// as it writes), its state machine's durable ``appliedIndex``, and in ``entries`` only the
/// tail above that index (at the least, the entries above the commit index); the node reads
/// older entries back from its ``LogEntrySource`` when a follower or the apply loop needs them. Without an outline, ``entries`` is the whole log after
/// ``snapshot`` (and committed entries are re-fed from ``snapshot`` on, or from
/// ``appliedIndex`` when given).
public struct PersistentState: Sendable {
    public var hardState: HardState
    /// The log start: the metadata of the latest compaction point (``RaftNode/compact(through:)``
    /// or an installed snapshot). The state machine's durable state is at or above it.
    public var snapshot: SnapshotMetadata?
    /// The snapshot file the driver holds (from ``RaftNode/snapshotTaken(index:size:)`` or an
    /// installed transfer), to stream to followers that need compacted entries. Its index is at
    /// or above ``snapshot``'s.
    public var availableSnapshot: Snapshot?
    /// A suffix of the stored log, ending at its last entry: the whole log after ``snapshot``
    /// when ``outline`` is nil, otherwise at least every entry above the commit index
    /// (`hardState.commit`, or ``appliedIndex`` if higher); typically the unapplied tail.
    public var entries: [Entry]
    /// Terms and configuration entries of the whole stored log after ``snapshot``; required
    /// (with a ``LogEntrySource``) when ``entries`` is only a tail.
    public var outline: LogOutline?
    /// The index the state machine has durably applied (0 = the log start): committed entries
    /// are handed out for applying from the next index on.
    public var appliedIndex: UInt64

    public init(hardState: HardState = HardState(), snapshot: SnapshotMetadata? = nil,
                availableSnapshot: Snapshot? = nil, entries: [Entry] = [], outline: LogOutline? = nil,
                appliedIndex: UInt64 = 0) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.availableSnapshot = availableSnapshot
        self.entries = entries
        self.outline = outline
        self.appliedIndex = appliedIndex
    }

    /// The state of a member of a brand-new group whose initial voters are `voters`: an empty
    /// log whose position 0 carries the initial membership. A node joining an existing group
    /// starts from `PersistentState()` and learns the membership from the leader.
    public static func bootstrap(voters: [NodeID]) -> PersistentState {
        PersistentState(snapshot: SnapshotMetadata(index: 0, term: 0, membership: Membership(voters: voters)))
    }
}
