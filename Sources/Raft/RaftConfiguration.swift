/// Tunables of one Raft node. Times are in ticks: the driver calls ``RaftNode/tick()`` at a fixed
/// interval (for example every 100 ms), so the core never reads a clock.
public struct RaftConfiguration: Sendable, Hashable {
    /// Ticks without hearing from a leader before a follower starts an election. The actual
    /// timeout is drawn uniformly from `[electionTicks, 2 * electionTicks)` (paper §5.2).
    public var electionTicks: Int = 10
    /// Ticks between leader heartbeats; must be well below `electionTicks` (paper §5.6).
    public var heartbeatTicks: Int = 1
    /// Run a pre-vote round before a real election so a partitioned node cannot depose a
    /// healthy leader when it rejoins (thesis §9.6).
    public var preVote: Bool = true
    /// A leader steps down after an election timeout without hearing from a majority, and
    /// voters ignore elections while they hear from a leader (thesis §6.2, §4.2.3).
    public var checkQuorum: Bool = true
    /// Most entries carried in one AppendEntries message.
    public var maxEntriesPerMessage: Int = 256
    /// Soft cap on entry bytes in one AppendEntries message (one entry is always allowed).
    public var maxMessageBytes: Int = 1 << 20
    /// Per-follower pipelining window: entries sent but not yet acknowledged.
    public var maxInflightEntries: Int = 4096
    /// Per-follower pipelining window: bytes sent but not yet acknowledged.
    public var maxInflightBytes: Int = 16 << 20
    /// Leader refuses proposals while entries of its term that are not yet committed exceed
    /// this many bytes (a single proposal is always accepted when nothing is pending).
    public var maxUncommittedBytes: Int = 64 << 20
    /// InstallSnapshot chunk size (paper §7).
    public var snapshotChunkBytes: Int = 1 << 20
    /// Bound on the entry bytes the log keeps in memory when the node has a
    /// ``LogEntrySource``: entries that are durable and already handed out for applying are
    /// evicted oldest first past it and read back from the source when a lagging follower or
    /// the apply loop needs them. Without a source nothing is evicted.
    public var maxInMemoryLogBytes: Int = 64 << 20
    /// Seed of the generator that randomizes election timeouts. The driver passes a random value;
    /// tests pass a fixed one so runs replay exactly.
    public var randomSeed: UInt64 = 0

    public init() {}
}
