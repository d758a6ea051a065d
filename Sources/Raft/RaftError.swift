/// Why a node refused a request (a proposal, a membership change, a read or a transfer).
public struct RaftError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A growable set of reasons.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case notLeader, uncommittedLimit, transferInProgress, membershipChangePending
            case leaderNotReady, invalidMembershipChange, invalidTransferTarget, snapshotOutOfRange
            case compactionOutOfRange
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// This node is not the leader; see ``RaftError/leaderHint``.
        public static let notLeader = Code(.notLeader)
        /// The leader's uncommitted entries exceed ``RaftConfiguration/maxUncommittedBytes``.
        public static let uncommittedLimit = Code(.uncommittedLimit)
        /// A leadership transfer is under way (thesis §3.10): proposals would be lost.
        public static let transferInProgress = Code(.transferInProgress)
        /// A membership change is not yet committed (thesis §4.1: one at a time).
        public static let membershipChangePending = Code(.membershipChangePending)
        /// The leader has not yet committed an entry of its term (thesis §4.1 fix, §6.4).
        public static let leaderNotReady = Code(.leaderNotReady)
        /// The change does not apply to the current membership.
        public static let invalidMembershipChange = Code(.invalidMembershipChange)
        /// The transfer target is not another voter.
        public static let invalidTransferTarget = Code(.invalidTransferTarget)
        /// A snapshot index is not above the latest snapshot, or not in the log up to the applied index.
        public static let snapshotOutOfRange = Code(.snapshotOutOfRange)
        /// A compaction index is beyond the latest snapshot or the applied index.
        public static let compactionOutOfRange = Code(.compactionOutOfRange)

        public var description: String { "\(base)" }
    }

    public var code: Code
    /// The leader this node knows of, when `code == .notLeader`.
    public var leaderHint: NodeID?

    public init(_ code: Code, leaderHint: NodeID? = nil) {
        self.code = code
        self.leaderHint = leaderHint
    }

    public var description: String {
        leaderHint.map { "\(code) (leader: \($0))" } ?? "\(code)"
    }
}
