@testable import Raft
import Testing

@Suite struct TransferTests {
    @Test func transferToAnUpToDateFollower() throws {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        try h[1].transferLeadership(to: 3)
        let out = h.takeQueue()
        #expect(out.map(\.description) == ["1->3 t1 timeoutNow"])
        for m in out { h.deliver(m) }
        h.stabilize()
        #expect(h.leaders == [3])
        #expect(h[3].term == 2)
    }

    @Test func transferCatchesTheTargetUpFirstAndBlocksProposals() throws {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        h.isolate(3)
        for i in 0..<3 { h.propose(1, [UInt8(i)]) }
        h.stabilize()
        try h[1].transferLeadership(to: 3)
        #expect(h[1].transferTarget == 3)
        #expect(throws: RaftError(.transferInProgress, leaderHint: 3)) { try h[1].propose([9]) }
        h.heal()
        h.tickAll(3)
        #expect(h.leaders == [3])
        #expect(h.appliedData(3) == [[0], [1], [2]])
    }

    @Test func transferOverridesTheLeaderLease() throws {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        try h[1].transferLeadership(to: 2)
        h.stabilize()
        #expect(h.leaders == [2], "voters still hear from 1 but honour a transfer vote")
    }

    @Test func transferToAnUnreachableTargetIsAbandoned() throws {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        h.isolate(3)
        try h[1].transferLeadership(to: 3)
        h.tickAll(h.config.electionTicks)
        #expect(h[1].transferTarget == 0)
        #expect(h.leaders == [1])
        #expect(throws: Never.self) { try h[1].propose([1]) }
        #expect(throws: RaftError(.invalidTransferTarget)) { try h[1].transferLeadership(to: 1) }
        #expect(throws: RaftError(.invalidTransferTarget)) { try h[1].transferLeadership(to: 8) }
    }
}

@Suite struct ReadIndexTests {
    @Test func leaderReadWaitsForAHeartbeatQuorum() throws {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        let commit = h[1].commitIndex
        try h[1].readIndex(context: [1])
        let out = h.takeQueue()
        #expect(out.map(\.description) == [
            "1->2 t1 heartbeat commit=\(commit) round=1",
            "1->3 t1 heartbeat commit=\(commit) round=1",
        ])
        #expect(h.readStates[1, default: []].isEmpty)
        h.deliver(out[0])
        h.stabilize()
        #expect(h.readStates[1] == [ReadState(context: [1], index: commit)])
    }

    @Test func readsArrivingDuringARoundShareTheNextRound() throws {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        try h[1].readIndex(context: [1])
        for i in 2...50 { try h[1].readIndex(context: [UInt8(i)]) }
        h.stabilize()
        #expect(h.readStates[1]?.count == 50)
        let rounds = Set(h.delivered.compactMap { m -> UInt64? in
            if case .heartbeat(_, let r) = m.payload, r != 0 { return r }
            return nil
        })
        #expect(rounds == [1, 2], "50 reads, two heartbeat rounds")
    }

    @Test func followerReadIsForwardedAndBatched() throws {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        h.propose(1, [7])
        h.stabilize()
        try h[2].readIndex(context: [1])
        try h[2].readIndex(context: [2])
        let out = h.takeQueue()
        #expect(out.map(\.description) == ["2->1 t1 readIndex n=2"])
        for m in out { h.deliver(m) }
        h.stabilize()
        #expect(h.readStates[2] == [ReadState(context: [1], index: 2), ReadState(context: [2], index: 2)])
    }

    @Test func readOnANewLeaderWaitsForItsFirstCommit() throws {
        var h = Harness(voters: [1, 2, 3])
        h[1].campaign()
        h.stabilize(maxRounds: 4)
        #expect(h[1].role == .leader && h[1].commitIndex == 0)
        try h[1].readIndex(context: [1])
        h.stabilize()
        #expect(h.readStates[1] == [ReadState(context: [1], index: 1)], "index covers the no-op (§6.4)")
    }

    @Test func isolatedLeaderCannotConfirmAReadAndAbandonsItOnStepDown() throws {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        h.isolate(1)
        try h[1].readIndex(context: [1])
        h.tickAll(2 * h.config.electionTicks)
        #expect(h.readStates[1, default: []].isEmpty)
        #expect(h[1].role == .follower)
        #expect(h.abandoned[1] == [[1]])
        #expect(throws: RaftError(.notLeader)) { try h[1].readIndex(context: [2]) }
    }

    @Test func singleVoterReadsImmediately() throws {
        var h = Harness(voters: [1])
        h.elect(1)
        try h[1].readIndex(context: [3])
        h.processAll()
        #expect(h.readStates[1] == [ReadState(context: [3], index: 1)])
    }
}
