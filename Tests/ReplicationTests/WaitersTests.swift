import Raft
import StreamModel
import Synchronization
import Testing
@testable import Replication

/// How proposals are found lost and answered (`Waiters`): a proposal is answered once, and a
/// stale report of where an earlier routing put it cannot make it look lost again.
@Suite struct WaitersTests {
    final class Answers: Sendable {
        let results = Mutex<[UInt64: [Result<CommandResult, ReplicationError>]]>([:])
        func completion(_ seq: UInt64) -> ProposalCompletion {
            { result in self.results.withLock { $0[seq, default: []].append(result) } }
        }
        func count(_ seq: UInt64) -> Int { results.withLock { $0[seq]?.count ?? 0 } }
    }

    @Test func aStalePositionFromAnEarlierRoutingIsIgnored() {
        let waiters = Waiters()
        let answers = Answers()
        #expect(waiters.register(seq: 1, answers.completion(1), deadline: .max))
        // Forwarded to the leader of term 1, which says nothing before an entry of term 2 applies.
        waiters.markForwarded([1], term: 1)
        #expect(waiters.answer([], entries: [(index: 5, term: 2)]) == [.init(seq: 1, term: 1)])
        // Routed again, to the leader of term 2, which appends it at index 7.
        waiters.markForwarded([1], term: 2)
        waiters.setPosition(1, LogPosition(index: 7, term: 2))
        // The old leader wakes up, appends the forward it had queued, and reports index 6 of
        // term 1. Recorded, that position would look lost when index 6 applies in term 2.
        waiters.setPosition(1, LogPosition(index: 6, term: 1))
        #expect(waiters.answer([], entries: [(index: 6, term: 2)]).isEmpty)
        // Index 7 applies it: answered exactly once.
        #expect(waiters.answer([(1, .deleted)], entries: [(index: 7, term: 2)]).isEmpty)
        #expect(answers.count(1) == 1)
    }

    @Test func aPositionReplacedByAnotherTermIsLost() {
        let waiters = Waiters()
        let answers = Answers()
        #expect(waiters.register(seq: 2, answers.completion(2), deadline: .max))
        waiters.markForwarded([2], term: 3)
        waiters.setPosition(2, LogPosition(index: 10, term: 3))
        // Index 10 applies with another term: the entry that held it was replaced.
        #expect(waiters.answer([], entries: [(index: 10, term: 4)]) == [.init(seq: 2, term: 3)])
        #expect(answers.count(2) == 0)
        waiters.fail([2], ReplicationError(.timeout, "test"))
        #expect(answers.count(2) == 1)
    }

    /// Proposals a leader had when this node installed a snapshot may be inside it: their
    /// outcome is unknown, and they must not be routed again when a later term applies.
    @Test func aSnapshotEndsTheProposalsHandedToALeader() {
        let waiters = Waiters()
        let answers = Answers()
        #expect(waiters.register(seq: 1, answers.completion(1), deadline: .max))
        #expect(waiters.register(seq: 2, answers.completion(2), deadline: .max))
        waiters.markForwarded([1], term: 1)
        waiters.setPosition(1, LogPosition(index: 4, term: 1))
        waiters.snapshotInstalled()
        guard case .failure(let error)? = answers.results.withLock({ $0[1]?.first }) else {
            Issue.record("the routed proposal was not answered")
            return
        }
        #expect(error.code == .timeout)
        // Not routed: still waiting, and never reported lost for being of an older term.
        #expect(answers.count(2) == 0)
        #expect(waiters.answer([], entries: [(index: 9, term: 2)]).isEmpty)
        #expect(waiters.isWaiting(2))
    }
}
