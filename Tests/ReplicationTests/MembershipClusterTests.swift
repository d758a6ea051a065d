import Foundation
import Logging
import Raft
import RunnelTesting
import Replication
import StreamModel
import Testing

extension InProcessCluster {
    /// Opens node `id` on the cluster's hub with a new data directory as a non-member (what
    /// `runnel serve --join` does): it knows the members' addresses and waits to be added.
    func openJoiner(_ id: NodeID, _ configure: (inout NodeConfiguration) -> Void = { _ in }) throws -> Node {
        var logger = Logger(label: "test")
        logger.logLevel = .error
        var configuration = NodeConfiguration(dataDirectory: directory + "/n\(id)")
        configuration.nodeID = id
        configuration.peers = Dictionary(uniqueKeysWithValues: (Self.ids + [id]).map { ($0, "memory:\($0)") })
        configuration.joinExisting = true
        configuration.tickInterval = .milliseconds(20)
        configuration.proposalTimeout = .seconds(10)
        configuration.readTimeout = .seconds(10)
        configure(&configuration)
        let store = try Node(configuration: configuration, transport: hub.transport(for: id), logger: logger)
        hub.register(id) { frame, from in store.receive(frame, from: from) }
        return store
    }
}

/// The in-process helpers (`create`, `append`, `contents`) live in InProcessClusterTests.swift.
private func code(_ body: () async throws -> Void) async -> ReplicationError.Code? {
    await replicationError(body)?.code
}

/// Membership changes in the running driver (docs/cluster.md "Membership changes"): three
/// nodes on RocksDB over the in-memory hub, a fourth that joins.
@Suite(.serialized) struct MembershipClusterTests {
    @Test func aJoiningNodeAsksForItselfCatchesUpAndBecomesAVoter() async throws {
        let cluster = try InProcessCluster()
        defer { cluster.shutdown() }
        let leader = try await cluster.leader()
        _ = try await cluster[leader].propose(create("a", "one"))
        for i in 0..<20 { _ = try await cluster[leader].propose(append("a", ",\(i)")) }
        let expected = try contents(cluster[leader], "a")

        let joiner = try cluster.openJoiner(4)
        defer { joiner.shutdown() }
        #expect(joiner.clusterStatus.membership.isEmpty)
        // A non-member asks every peer it knows over the transport; the leader answers.
        let change = try await joiner.addMember(id: 4, address: "memory:4")
        #expect(change.changed && !change.voter && change.index > 0)
        try await waitUntil("node 4 promoted", within: .seconds(15)) {
            cluster[leader].clusterStatus.membership.isVoter(4) && joiner.clusterStatus.membership.isVoter(4)
        }
        try await waitUntil("node 4 has the data") { try contents(joiner, "a") == expected }
        // Every member learned the new address from the log and dials it.
        for id in InProcessCluster.ids { #expect(cluster[id].peerAddresses[4] == "memory:4") }
        // Asking again changes nothing.
        let again = try await cluster[leader].addMember(id: 4, address: "memory:4")
        #expect(!again.changed && again.voter)
        // The new voter takes writes (forwarded) and counts for commitment.
        _ = try await joiner.propose(append("a", ",joined"))
        try await waitUntil("the write everywhere") {
            try (InProcessCluster.ids.map { cluster[$0] } + [joiner]).allSatisfy { try contents($0, "a") == expected! + ",joined" }
        }
    }

    @Test func removingAFollowerShrinksTheGroupAndWritesContinue() async throws {
        let cluster = try InProcessCluster()
        defer { cluster.shutdown() }
        let leader = try await cluster.leader()
        let followers = InProcessCluster.ids.filter { $0 != leader }
        _ = try await cluster[leader].propose(create("s", "x"))
        // Asked on the other follower: forwarded to the leader.
        let change = try await cluster[followers[1]].removeMember(id: followers[0])
        #expect(change.changed && change.index > 0)
        try await waitUntil("node \(followers[0]) removed") {
            !cluster[leader].clusterStatus.membership.contains(followers[0])
                && cluster[leader].clusterStatus.membership.voters.count == 2
        }
        // Cut the removed node off entirely: the remaining two are a majority of two.
        cluster.hub.isolate(followers[0], from: InProcessCluster.ids)
        _ = try await cluster[followers[1]].propose(append("s", "y"))
        try await waitUntil("the leader applied the write") { try contents(cluster[leader], "s") == "xy" }
        let again = await code { _ = try await cluster[leader].removeMember(id: followers[0]) }
        #expect(again == .memberNotFound)
    }

    @Test func removingTheLeaderMovesLeadershipAndWritesContinue() async throws {
        let cluster = try InProcessCluster()
        defer { cluster.shutdown() }
        let old = try await cluster.leader()
        let term = cluster[old].clusterStatus.term
        let rest = InProcessCluster.ids.filter { $0 != old }
        _ = try await cluster[rest[0]].propose(create("s", "a"))
        let change = try await cluster[rest[0]].removeMember(id: old)
        #expect(change.changed)
        let new = try await cluster.leader(among: rest, after: term)
        #expect(new != old)
        #expect(!cluster[new].clusterStatus.membership.contains(old))
        _ = try await cluster[rest[0]].propose(append("s", "b"))
        _ = try await cluster[rest[1]].propose(append("s", "c"))
        try await waitUntil("both remaining nodes have every write") {
            try rest.allSatisfy { try contents(cluster[$0], "s") == "abc" }
        }
    }

    @Test func aSecondChangeWhileALearnerAwaitsPromotionIsRefused() async throws {
        let cluster = try InProcessCluster()
        defer { cluster.shutdown() }
        let leader = try await cluster.leader()
        let follower = InProcessCluster.ids.first { $0 != leader }!
        // Node 4 never runs: the learner never catches up, so it stays a learner.
        let added = try await cluster[follower].addMember(id: 4, address: "memory:4")
        #expect(added.changed && !added.voter)
        try await waitUntil("node 4 is a learner") { cluster[leader].clusterStatus.membership.isLearner(4) }
        #expect(await code { _ = try await cluster[follower].addMember(id: 5, address: "memory:5") } == .membershipChangeInProgress)
        #expect(await code { _ = try await cluster[leader].removeMember(id: follower) } == .membershipChangeInProgress)
        // The same id at another address conflicts; a bad address is invalid; an unknown id is not found.
        #expect(await code { _ = try await cluster[leader].addMember(id: 4, address: "memory:44") } == .memberConflict)
        #expect(await code { _ = try await cluster[leader].addMember(id: 6, address: "no-port") } == .invalidRequest)
        #expect(await code { _ = try await cluster[leader].removeMember(id: 9) } == .memberNotFound)
        // Abandoning the learner is allowed, and then the next change goes through.
        _ = try await cluster[leader].removeMember(id: 4)
        try await waitUntil("node 4 gone") { !cluster[leader].clusterStatus.membership.contains(4) }
        try await waitUntil("the removal committed") {
            cluster[leader].clusterStatus.commitIndex == cluster[leader].clusterStatus.lastIndex
        }
        let next = try await cluster[follower].addMember(id: 5, address: "memory:5")
        #expect(next.changed)
    }
}
