import Storage

/// Why the node could not take or answer a write, a read barrier or a membership change. The
/// HTTP layer maps the codes to 503 with `Retry-After` (`closed`, `busy`, `unavailable`,
/// `timeout`), 500 (`storage`), and 409, 404 or 400 for the membership refusals.
public struct ReplicationError: Error, Sendable, CustomStringConvertible {
    /// A stable reason. A struct over a private enum, so it can grow.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable {
            case closed, busy, unavailable, timeout, storage
            case membershipChangeInProgress, memberNotFound, memberConflict, invalidRequest
        }
        fileprivate let value: Value
        public var description: String { value.rawValue }
        /// The node is shutting down.
        public static let closed = Code(value: .closed)
        /// Too much is queued; try again later.
        public static let busy = Code(value: .busy)
        /// No leader could take the request (none elected yet, or this node is cut off from a
        /// majority), or leadership changed before a write committed. Nothing was applied;
        /// retrying is safe.
        public static let unavailable = Code(value: .unavailable)
        /// A write reached a leader but was not acknowledged in time: its outcome is unknown.
        public static let timeout = Code(value: .timeout)
        /// The node's storage failed (`underlying` is the `StorageError`); the node refuses
        /// further writes until restarted.
        public static let storage = Code(value: .storage)
        /// A membership change is refused: another one is uncommitted or a learner awaits
        /// promotion (one change at a time, Raft thesis §4.2).
        public static let membershipChangeInProgress = Code(value: .membershipChangeInProgress)
        /// The node named by a membership change is not a member.
        public static let memberNotFound = Code(value: .memberNotFound)
        /// The membership change contradicts the membership (a member at another address, the
        /// last voter, the leader replacing itself).
        public static let memberConflict = Code(value: .memberConflict)
        /// The request is malformed (a zero id, an address that is not `HOST:PORT`).
        public static let invalidRequest = Code(value: .invalidRequest)
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// A storage failure seen by the replication layer.
    public init(_ error: StorageError) {
        self.init(.storage, error.message, underlying: error)
    }

    public var description: String {
        "ReplicationError(\(code)): \(message)" + (underlying.map { " (\($0))" } ?? "")
    }
}
