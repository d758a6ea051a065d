import Raft
import Storage

/// A node's view of the group, published by the Raft thread.
public struct ClusterStatus: Sendable {
    public var nodeID: NodeID
    public var role: RaftRole
    public var term: UInt64
    public var leaderID: NodeID
    public var commitIndex: UInt64
    public var appliedIndex: UInt64
    public var lastIndex: UInt64
    /// The first index still in the log (compacted entries are below it).
    public var firstIndex: UInt64
    public var membership: Membership
    public var followers: [FollowerProgress]
    /// Whether this node takes part in Raft yet (a probing or amnesiac node does not).
    public var admission: Admission

    init(node: RaftNode, admission: Admission) {
        self.admission = admission
        nodeID = node.id
        role = node.role
        term = node.term
        leaderID = node.leaderID
        commitIndex = node.commitIndex
        appliedIndex = node.appliedIndex
        lastIndex = node.lastIndex
        firstIndex = node.firstIndex
        membership = node.membership
        followers = node.followers
    }
}
