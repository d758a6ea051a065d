@testable import Raft
import Testing

@Suite struct MembershipTests {
    @Test func membershipChangesApplyToTheMembership() {
        let m = Membership(voters: [1, 2, 3])
        #expect(m.applying(.addLearner(4)) == Membership(voters: [1, 2, 3], learners: [4]))
        #expect(m.applying(.addLearner(3)) == nil)
        #expect(m.applying(.promote(3)) == nil)
        #expect(m.applying(.addLearner(4))!.applying(.promote(4)) == Membership(voters: [1, 2, 3, 4]))
        #expect(m.applying(.remove(2)) == Membership(voters: [1, 3]))
        #expect(Membership(voters: [1]).applying(.remove(1)) == nil, "the last voter cannot leave")
    }

    @Test func learnerReceivesTheLogButDoesNotVoteOrCount() throws {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        try h[1].proposeMembershipChange(.addLearner(4))
        h.add(4, state: PersistentState())
        h.stabilize()
        h.tickAll(2)
        #expect(h[4].membership == Membership(voters: [1, 2, 3], learners: [4]))
        #expect(h[4].commitIndex == h[1].commitIndex)
        // With two voters down the learner's copy does not make a majority.
        h.isolate(2)
        h.isolate(3)
        let pos = h.propose(1, [1])!
        h.stabilize()
        #expect(h[4].lastIndex == pos.index)
        #expect(h[1].commitIndex < pos.index)
        // A learner never campaigns.
        h.tick(4, 10 * h.config.electionTicks)
        #expect(h[4].role == .follower)
    }

    @Test func addLearnerPromoteRemoveFollowerRemoveLeader() throws {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        try h[1].proposeMembershipChange(.addLearner(4))
        #expect(throws: RaftError(.membershipChangePending)) { try h[1].proposeMembershipChange(.promote(4)) }
        h.add(4, state: PersistentState())
        h.stabilize()
        let learner = h[1].followers.first { $0.id == 4 }
        #expect(learner?.isLearner == true && learner?.match == h[1].lastIndex && learner?.state == .replicate)
        try h[1].proposeMembershipChange(.promote(4))
        h.stabilize()
        #expect(h.ids.allSatisfy { h[$0].membership == Membership(voters: [1, 2, 3, 4]) })
        try h[1].proposeMembershipChange(.remove(2))
        h.stabilize()
        #expect(h[1].membership == Membership(voters: [1, 3, 4]))
        // Removing the leader: it keeps leading until the change commits, then steps down and
        // hands off to an up-to-date voter (thesis §4.2.2).
        try h[1].proposeMembershipChange(.remove(1))
        h.stabilize()
        #expect(h[1].role == .follower)
        #expect(!h[1].isPromotable)
        h.tickAll(3 * h.config.electionTicks)
        let leaders = h.leaders
        #expect(leaders.count == 1)
        #expect(leaders.allSatisfy { [3, 4].contains($0) })
        let leader = leaders[0]
        h.propose(leader, [5])
        h.stabilize()
        #expect(h.appliedData(3).last == [5] && h.appliedData(4).last == [5])
    }

    @Test func newLeaderMustCommitInItsTermBeforeAChange() throws {
        var h = Harness(voters: [1, 2, 3])
        h[1].campaign()
        h.stabilize(maxRounds: 4)  // pre-vote and vote rounds: elected, no-op not yet committed
        #expect(h[1].role == .leader)
        #expect(throws: RaftError(.leaderNotReady)) { try h[1].proposeMembershipChange(.addLearner(4)) }
        h.stabilize()
        #expect(throws: Never.self) { try h[1].proposeMembershipChange(.addLearner(4)) }
        #expect(throws: RaftError(.notLeader, leaderHint: 1)) { try h[2].proposeMembershipChange(.addLearner(5)) }
    }

    @Test func uncommittedMembershipIsRevertedWhenTheEntryIsOverwritten() throws {
        var h = Harness(voters: [1, 2, 3]) { $0.preVote = false }
        h.elect(1)
        h.isolate(1)
        try h[1].proposeMembershipChange(.addLearner(9))
        #expect(h[1].membership.learners == [9], "a configuration applies as soon as it is in the log (§4.1)")
        h.process(1)
        h.tickAll(3 * h.config.electionTicks)
        let other = h.leaders.first { $0 != 1 }!
        h.propose(other, [1])
        h.stabilize()
        h.heal()
        h.tickAll(3 * h.config.electionTicks)
        #expect(h[1].membership == Membership(voters: [1, 2, 3]), "truncated configuration entry is undone")
    }

    @Test func newNodeJoinsThroughASnapshot() throws {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        for i in 0..<8 { h.propose(1, [UInt8(i)]) }
        h.stabilize()
        try h.takeSnapshot(1, index: h[1].appliedIndex, data: [1, 2, 3, 4])
        try h[1].proposeMembershipChange(.addLearner(4))
        h.add(4, state: PersistentState())
        h.stabilize()
        h.tickAll(3)
        #expect(h.snapshotsInstalled[4]?.first?.data == [1, 2, 3, 4])
        #expect(h[4].membership.learners == [4])
        #expect(h[4].commitIndex == h[1].commitIndex)
    }
}
