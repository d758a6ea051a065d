import Raft
import Storage
import StreamModel
import Synchronization

/// Clients of this node waiting for a proposal to be applied or for a read point.
///
/// Whoever removes a waiter answers it, so each proposal is answered exactly once whether the
/// answer comes from the apply loop, a rejection, a timeout or shutdown. A proposal's answer is
/// a closure (`ProposalCompletion`), run on the thread that removes it: the async `propose`
/// resumes a continuation there, an event-loop caller hops to its loop (docs/hot-path.md).
/// How a proposal is answered: with the state machine's result, or with why it failed or
/// might not have been applied (`ReplicationError`). Called exactly once, on whichever thread
/// answers (the apply loop, the Raft thread, a timer), so it must not block.
public typealias ProposalCompletion = @Sendable (Result<CommandResult, ReplicationError>) -> Void

final class Waiters: Sendable {
    struct Proposal {
        var complete: ProposalCompletion
        var deadline: UInt64
        /// Where the leader appended it, once known.
        var position: LogPosition?
        /// Handed to a leader (proposed locally or forwarded): a timeout then means "unknown".
        var routed = false
        /// The term of the leader it was last handed to: only that leader, in that term, may
        /// append it.
        var term: UInt64?
    }

    struct Read {
        var continuation: CheckedContinuation<Void, any Error>
        var deadline: UInt64
    }

    private struct State {
        var proposals: [UInt64: Proposal] = [:]
        var byIndex: [UInt64: [UInt64]] = [:]
        var reads: [UInt64: Read] = [:]
        var closed: ReplicationError?
        /// The highest term of an entry applied so far.
        var appliedTerm: UInt64 = 0
    }

    private let state = Mutex(State())


    /// Registers a proposal; `false` (and `complete` already called with the error) once closed.
    func register(seq: UInt64, _ complete: @escaping ProposalCompletion, deadline: UInt64) -> Bool {
        let closed = state.withLock { s -> ReplicationError? in
            if let c = s.closed { return c }
            s.proposals[seq] = Proposal(complete: complete, deadline: deadline)
            return nil
        }
        if let closed { complete(.failure(closed)) }
        return closed == nil
    }

    func register(read id: UInt64, _ continuation: CheckedContinuation<Void, any Error>, deadline: UInt64) -> Bool {
        let closed = state.withLock { s -> ReplicationError? in
            if let c = s.closed { return c }
            s.reads[id] = Read(continuation: continuation, deadline: deadline)
            return nil
        }
        if let closed { continuation.resume(throwing: closed) }
        return closed == nil
    }

    func isWaiting(_ seq: UInt64) -> Bool { state.withLock { $0.proposals[seq] != nil } }

    /// The proposals were handed to the leader of `term` (this node, or by a forward).
    func markForwarded(_ seqs: some Sequence<UInt64>, term: UInt64) {
        state.withLock { s in
            for seq in seqs where s.proposals[seq] != nil {
                s.proposals[seq]!.routed = true
                s.proposals[seq]!.term = term
                s.proposals[seq]!.position = nil
            }
        }
    }

    /// Where the leader of the proposal's current routing appended it. A position of another
    /// term is stale and ignored: a leader appends a command only in the term it was routed in,
    /// so it comes from an earlier routing. Example: a hung leader that wakes up, still
    /// leading its old term, appends a forward it had queued and says so after the proposal
    /// was found lost and routed to the new leader. Recording that position would make the
    /// proposal look lost again when its index applies with the new term. It would be routed a
    /// third time and applied twice.
    func setPosition(_ seq: UInt64, _ position: LogPosition) {
        state.withLock { s in
            guard let proposal = s.proposals[seq], proposal.term == position.term else { return }
            s.proposals[seq]!.position = position
            s.byIndex[position.index, default: []].append(seq)
        }
    }

    /// A proposal's routing found lost: the one handed to the leader of `term`.
    struct LostRouting: Equatable {
        var seq: UInt64
        var term: UInt64
    }

    /// Answers the proposals applied in one round and returns those that are now known lost,
    /// to be routed again: a proposal appended at an index of `entries` under another term (the
    /// entry was replaced), and one handed to the leader of a term older than an entry applied
    /// here (entries of a term precede every entry of a later term in the log, and a leader
    /// appends a forwarded command only in the term it was sent for, so it can never apply).
    /// Each names the routing's term: the driver routes a proposal again only if that is still
    /// its latest routing (the signal crosses threads, and may arrive after the proposal was
    /// already routed again for another reason).
    func answer(_ results: [(UInt64, CommandResult)], entries: [(index: UInt64, term: UInt64)]) -> [LostRouting] {
        var done: [(ProposalCompletion, CommandResult)] = []
        var lost: [UInt64: UInt64] = [:]
        state.withLock { s in
            for (seq, result) in results {
                if let w = s.proposals.removeValue(forKey: seq) { done.append((w.complete, result)) }
            }
            if !s.byIndex.isEmpty {
                for e in entries {
                    guard let seqs = s.byIndex.removeValue(forKey: e.index) else { continue }
                    for seq in seqs {
                        guard let p = s.proposals[seq]?.position, p.index == e.index, p.term != e.term else { continue }
                        lost[seq] = p.term  // the routing's term (`setPosition` keeps only those)
                    }
                }
            }
            let top = entries.map(\.term).max() ?? 0
            if top > s.appliedTerm {
                s.appliedTerm = top
                for (seq, w) in s.proposals where w.routed {
                    if let term = w.term, term < top { lost[seq] = term }
                }
            }
            for seq in lost.keys {
                s.proposals[seq]!.position = nil
                s.proposals[seq]!.term = nil
            }
        }
        for (complete, result) in done { complete(.success(result)) }
        return lost.map { LostRouting(seq: $0.key, term: $0.value) }.sorted { $0.seq < $1.seq }
    }

    /// A snapshot replaced the applied state. A proposal already handed to a leader may be
    /// inside it, applied without this node ever seeing its result, so its outcome is unknown:
    /// it is failed as a timeout would fail it, and never found lost and routed again (which
    /// could apply it twice once a later term's entry applies here). Proposals not handed to
    /// any leader cannot be in it and keep waiting.
    func snapshotInstalled() {
        let taken = state.withLock { s -> [ProposalCompletion] in
            let routed = s.proposals.filter { $0.value.routed }
            for seq in routed.keys { s.proposals[seq] = nil }
            // Positions inside the snapshot are never applied here; the rest went with them.
            s.byIndex = [:]
            return routed.values.map(\.complete)
        }
        for complete in taken {
            complete(.failure(ReplicationError(.timeout, "the write's outcome is unknown: this node installed a snapshot that may hold it")))
        }
    }

    func fail(_ seqs: some Sequence<UInt64>, _ error: ReplicationError) {
        let taken = state.withLock { s in seqs.compactMap { s.proposals.removeValue(forKey: $0)?.complete } }
        for complete in taken { complete(.failure(error)) }
    }

    func completeRead(_ id: UInt64) {
        state.withLock { $0.reads.removeValue(forKey: id) }?.continuation.resume()
    }

    func failRead(_ id: UInt64, _ error: ReplicationError) {
        state.withLock { $0.reads.removeValue(forKey: id) }?.continuation.resume(throwing: error)
    }

    /// Fails everything whose deadline has passed.
    func expire(now: UInt64) {
        var proposals: [(ProposalCompletion, ReplicationError)] = []
        var reads: [CheckedContinuation<Void, any Error>] = []
        state.withLock { s in
            for (seq, w) in s.proposals where w.deadline <= now {
                s.proposals[seq] = nil
                proposals.append((w.complete, w.routed
                    ? ReplicationError(.timeout, "the write was not acknowledged in time; its outcome is unknown")
                    : ReplicationError(.unavailable, "no leader is available")))
            }
            for (id, r) in s.reads where r.deadline <= now {
                s.reads[id] = nil
                reads.append(r.continuation)
            }
        }
        for (complete, error) in proposals { complete(.failure(error)) }
        for c in reads { c.resume(throwing: ReplicationError(.unavailable, "no leader confirmed the read in time")) }
    }

    /// Fails every waiter and refuses new ones.
    func close(_ error: ReplicationError) {
        let (proposals, reads) = state.withLock { s in
            if s.closed == nil { s.closed = error }
            defer { s.proposals = [:]; s.reads = [:]; s.byIndex = [:] }
            return (s.proposals.values.map(\.complete), s.reads.values.map(\.continuation))
        }
        for complete in proposals { complete(.failure(error)) }
        for c in reads { c.resume(throwing: error) }
    }
}
