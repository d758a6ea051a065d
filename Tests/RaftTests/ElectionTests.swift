@testable import Raft
import Testing

@Suite struct ElectionTests {
    @Test func electionTimeoutStartsPreVoteWithoutBumpingTerm() {
        var h = Harness(voters: [1, 2, 3])
        h.tick(1, 2 * h.config.electionTicks)
        let rd = h.process(1)
        #expect(h[1].role == .preCandidate)
        #expect(h[1].term == 0)
        #expect(rd.hardState == nil)
        #expect(rd.messagesAfterPersist.map(\.description) == [
            "1->2 t1 preVote last=0/0",
            "1->3 t1 preVote last=0/0",
        ])
        h.stabilize()
        #expect(h.leaders == [1])
        #expect(h[1].term == 1)
        #expect(h[2].leaderID == 1 && h[3].leaderID == 1)
        // The leader's no-op of its term commits everywhere (§8).
        #expect(h.ids.allSatisfy { h.applied[$0]?.last?.kind == .empty && h[$0].commitIndex == 1 })
    }

    @Test func realVotesArePersistedBeforeTheyAreSent() {
        var h = Harness(voters: [1, 2, 3]) { $0.preVote = false }
        h[1].campaign()
        let rd = h.process(1)
        #expect(rd.hardState == HardState(term: 1, vote: 1, commit: 0))
        #expect(rd.messages.isEmpty)
        #expect(rd.messagesAfterPersist.map(\.description) == [
            "1->2 t1 vote last=0/0", "1->3 t1 vote last=0/0",
        ])
        h.deliver(rd.messagesAfterPersist[0])
        let reply = h.process(2)
        #expect(reply.hardState == HardState(term: 1, vote: 1, commit: 0))
        #expect(reply.messagesAfterPersist.map(\.description) == ["2->1 t1 voteResponse granted=true"])
    }

    @Test func votesRespectTheElectionRestriction() {
        var h = Harness(voters: [1, 2, 3]) { $0.preVote = false; $0.checkQuorum = false }
        h.elect(1)
        h.propose(1, [1])
        h.stabilize()
        // Node 3 missed nothing, node 2 is cut off and then has a shorter log.
        h.isolate(2)
        h.propose(1, [2])
        h.stabilize()
        h.heal()
        h.isolate(1)
        h[2].campaign()
        h.stabilize()
        #expect(h[2].role != .leader, "a candidate with a stale log must not win (§5.4.1)")
        h[3].campaign()
        h.stabilize()
        #expect(h[3].role == .leader)
    }

    @Test func preVoteStopsAPartitionedNodeFromDisruptingOnRejoin() {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        let term = h[1].term
        h.isolate(3)
        for _ in 0..<10 { h.tickAll(h.config.electionTicks) }
        #expect(h[3].term == term, "pre-vote never reaches a majority, so the term stays")
        #expect(h[3].role == .preCandidate)
        h.heal()
        h.tickAll(3 * h.config.electionTicks)
        #expect(h.leaders == [1])
        #expect(h[1].term == term)
        #expect(h[3].role == .follower && h[3].leaderID == 1)
    }

    @Test func withoutPreVoteARejoiningNodeForcesANewTerm() {
        var h = Harness(voters: [1, 2, 3]) { $0.preVote = false; $0.checkQuorum = false }
        h.elect(1)
        let term = h[1].term
        h.isolate(3)
        for _ in 0..<5 { h.tickAll(h.config.electionTicks) }
        #expect(h[3].term > term)
        h.heal()
        h.tickAll(3 * h.config.electionTicks)
        #expect(h[1].term > term || h[1].role != .leader, "the contrast case: the old leader was deposed")
    }

    @Test func checkQuorumMakesAnIsolatedLeaderStepDown() {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        h.isolate(1)
        h.tick(1, h.config.electionTicks - 1)
        #expect(h[1].role == .leader)
        h.tick(1, 1)
        #expect(h[1].role == .leader, "recently active at the first check")
        h.tick(1, h.config.electionTicks)
        #expect(h[1].role == .follower)
        h.process(1)
    }

    @Test func leaderLeaseMakesVotersIgnoreElectionsWhileTheyHearFromALeader() {
        var h = Harness(voters: [1, 2, 3]) { $0.preVote = false }
        h.elect(1)
        let term = h[1].term
        // Node 3 cannot hear the leader but can reach node 2.
        h.cutLink(1, 3)
        h.cutLink(3, 1)
        h.tickAll(3 * h.config.electionTicks)
        #expect(h[2].term == term, "node 2 hears from the leader and ignores node 3's votes")
        #expect(h.leaders == [1])
    }

    @Test func staleLeaderLearnsTheNewTermFromAFollower() {
        // Without check-quorum the cut-off leader does not step down by itself.
        var h = Harness(voters: [1, 2, 3]) { $0.checkQuorum = false }
        h.elect(1)
        h.isolate(1)
        h[2].campaign()
        h.stabilize()
        #expect(h[2].role == .leader)
        h.heal()
        // Node 1 still believes it leads; its next heartbeat is answered with the newer term.
        h.tick(1, h.config.heartbeatTicks)
        h.stabilize()
        #expect(h[1].role == .follower)
        #expect(h[1].term == h[2].term)
    }

    @Test func singleVoterElectsItselfAndCommitsOncePersisted() {
        var h = Harness(voters: [1])
        h[1].campaign()
        #expect(h[1].role == .leader)
        #expect(h[1].commitIndex == 0, "the no-op is not durable yet (thesis §10.2.1)")
        h.stabilize()
        #expect(h[1].commitIndex == 1)
    }

    @Test func restartKeepsTermVoteAndLog() {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        h.propose(1, [9])
        h.stabilize()
        h.restart(2)
        #expect(h[2].term == h[1].term)
        #expect(h[2].lastIndex == h[1].lastIndex)
        #expect(h[2].role == .follower)
        h.tickAll(2)
        #expect(h.appliedData(2) == [[9]])
    }
}
