import Raft

/// Knobs of one simulated run. Everything else (network fault rates, cluster size, snapshot
/// cadence) is drawn from the seed.
public struct SimulationOptions: Sendable {
    /// Total steps; one step is one tick of every node plus the deliveries due then.
    public var steps: Int = 2000
    /// Trailing steps without faults, in which the cluster must recover.
    public var livenessSteps: Int = 500
    /// A leader must be elected and a new proposal committed within this many steps of the
    /// faults stopping. The slowest of 24,000 seeds needed 286: a leader whose followers were
    /// ~300 entries behind, one entry per message, on a reordering network.
    public var livenessBound: Int = 400
    /// Initial voters; 0 picks 3 or 5 from the seed.
    public var nodeCount: Int = 0
    /// Record a trace of events to print on failure (slower).
    public var trace: Bool = false
    /// How many trace lines to keep.
    public var traceLimit: Int = 300
    /// Test hook: run with a modified Raft configuration.
    public var configure: @Sendable (inout RaftConfiguration) -> Void = { _ in }

    public init(steps: Int = 2000, livenessSteps: Int = 500, nodeCount: Int = 0, trace: Bool = false) {
        self.steps = steps
        self.livenessSteps = livenessSteps
        self.nodeCount = nodeCount
        self.trace = trace
    }
}

/// A violated invariant, with what is needed to replay it.
public struct SimulationFailure: Error, Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var step: Int
    /// Which property failed, e.g. "Election Safety".
    public var invariant: String
    public var detail: String
    /// The last events before the failure (only when tracing).
    public var trace: [String] = []

    /// A shell line that replays this seed alone.
    public var replay: String { "RUNNEL_SIM_START=\(seed) RUNNEL_SIM_SEEDS=1 make sim" }

    public var description: String {
        var s = "seed \(seed) step \(step): \(invariant) violated: \(detail)\n  replay: \(replay)"
        if !trace.isEmpty { s += "\n  last events:\n    " + trace.joined(separator: "\n    ") }
        return s
    }
}

/// What a run did, for reporting and for tests that check the faults really happened.
public struct SimulationReport: Sendable {
    public var seed: UInt64 = 0
    public var nodeCount = 0
    public var steps = 0
    public var committedIndex: UInt64 = 0
    public var proposalsAcked = 0
    public var readsCompleted = 0
    public var leaderElections = 0
    public var crashes = 0
    public var partitions = 0
    public var snapshotsTaken = 0
    public var snapshotsInstalled = 0
    /// Received snapshot files that failed verification (the transfer restarted from byte 0).
    public var snapshotsRejected = 0
    /// Reads of evicted entries from the nodes' disks (``LogEntrySource`` calls).
    public var sourceReads = 0
    public var membershipChanges = 0
    public var transfers = 0
    public var messagesSent = 0
    public var messagesDropped = 0
    public var livenessStepsToCommit = 0
    /// Trace lines, when tracing was on.
    public var trace: [String] = []

    public init() {}
}
