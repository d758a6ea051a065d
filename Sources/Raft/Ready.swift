/// Everything a node asks its driver to do, drained by ``RaftNode/ready()``.
///
/// The driver honours this order (paper Figure 2 "respond to RPCs only after updating stable
/// storage"; thesis §10.2.1 for the leader's parallel write):
/// 1. Send ``messages`` right away. They never depend on local durability: they are the leader's
///    appends, heartbeats and snapshot chunks, which may go out while the leader's own write of
///    ``entries`` is in flight, and read forwards.
/// 2. Durably write ``snapshot`` (replacing the whole log), then ``entries`` (the first entry's
///    index truncates any stored suffix), then ``hardState``, atomically or in that order.
///    Writes of successive `Ready`s must complete in order.
/// 3. Once that write is durable: send ``messagesAfterPersist`` and call
///    ``RaftNode/persisted(upTo:term:)`` with ``persistedMark``.
/// 4. Apply ``committedEntries`` in order (all are already durable locally), after installing
///    ``snapshot`` if present. Serve ``readStates`` once applied through their index.
public struct Ready: Sendable {
    /// Term, vote and commit to persist, when they changed.
    public var hardState: HardState?
    /// A snapshot received from the leader: persist it, replace the log, restore the state machine.
    public var snapshot: Snapshot?
    /// Entries to append durably; `entries.first.index` replaces any stored entry at or above it.
    public var entries: [Entry] = []
    /// Messages that may be sent before the writes above are durable.
    public var messages: [Message] = []
    /// Messages that must wait until the writes above are durable.
    public var messagesAfterPersist: [Message] = []
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
        if let s = snapshot { return LogPosition(index: s.metadata.index, term: s.metadata.term) }
        return nil
    }

    /// Whether anything must be written durably before ``messagesAfterPersist`` go out.
    public var needsPersist: Bool { hardState != nil || snapshot != nil || !entries.isEmpty }

    public var isEmpty: Bool {
        !needsPersist && messages.isEmpty && messagesAfterPersist.isEmpty && committedEntries.isEmpty
            && readStates.isEmpty && abandonedReads.isEmpty && softState == nil
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
public struct PersistentState: Sendable {
    public var hardState: HardState
    /// The latest durable snapshot, if any; `entries` follow it.
    public var snapshot: Snapshot?
    public var entries: [Entry]

    public init(hardState: HardState = HardState(), snapshot: Snapshot? = nil, entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }

    /// The state of a member of a brand-new group whose initial voters are `voters`: an empty
    /// log whose position 0 carries the initial membership. A node joining an existing group
    /// starts from `PersistentState()` and learns the membership from the leader.
    public static func bootstrap(voters: [NodeID]) -> PersistentState {
        PersistentState(snapshot: Snapshot(metadata: SnapshotMetadata(index: 0, term: 0, membership: Membership(voters: voters))))
    }
}
