import Foundation
import Raft
import Replication
import Synchronization
import Testing

/// A log write slower than the election timeout (a large entry, a slow disk) must not cost the
/// cluster its leader (docs/raft.md "Persisting off the Raft thread"):
/// - on the leader, the writer thread writes while the Raft thread goes on heartbeating, and
///   the followers' acknowledgements commit the entry meanwhile;
/// - on followers, heartbeat responses do not wait for their writes, so the leader's
///   check-quorum keeps hearing them.
@Suite(.serialized) struct SlowDiskTests {
    @Test func aLeaderWhoseWritesOutlastTheElectionTimeoutStaysLeader() async throws {
        try await writeWithSlowDisks { leader, _ in [leader] }
    }

    @Test func followersWhoseWritesOutlastTheElectionTimeoutKeepTheirLeader() async throws {
        try await writeWithSlowDisks { leader, ids in ids.filter { $0 != leader } }
    }

    /// Three appends while the disks of `slowNodes` take 800 ms per write carrying entries; the
    /// election timeout is 200–400 ms (20 ms ticks).
    func writeWithSlowDisks(_ slowNodes: (_ leader: NodeID, _ ids: [NodeID]) -> [NodeID]) async throws {
        let slow = Atomic<UInt64>(0)  // bit n: node n's disk is slow
        let cluster = try InProcessCluster { configuration in
            let bit = UInt64(1) << configuration.nodeID
            configuration.beforeLogWrite = { entries in
                if entries > 0, slow.load(ordering: .relaxed) & bit != 0 { Thread.sleep(forTimeInterval: 0.8) }
            }
        }
        defer { cluster.shutdown() }
        let leader = try await cluster.leader()
        let term = cluster[leader].clusterStatus.term
        _ = try await cluster[leader].propose(create("s"))

        slow.store(slowNodes(leader, InProcessCluster.ids).reduce(0) { $0 | UInt64(1) << $1 }, ordering: .relaxed)
        let follower = InProcessCluster.ids.first { $0 != leader }!
        let started = ContinuousClock.now
        for i in 0..<3 {
            _ = try await cluster[i % 2 == 0 ? leader : follower].propose(append("s", "\(i);"))
        }
        let took = ContinuousClock.now - started
        slow.store(0, ordering: .relaxed)

        let statuses = InProcessCluster.ids.map { cluster[$0].clusterStatus }
        #expect(statuses.allSatisfy { $0.term == term && $0.leaderID == leader },
                "an election during slow writes: \(statuses.map { "\($0.nodeID): \($0.role) term \($0.term) leader \($0.leaderID)" })")
        #expect(took >= .milliseconds(1600), "the writes were not slow: \(took)")
        try await cluster.caughtUp()
        for id in InProcessCluster.ids { #expect(try contents(cluster[id], "s") == "0;1;2;") }
    }
}
