import Raft
import Storage
import StreamModel
import Synchronization

/// Clients of this node waiting for a proposal to be applied or for a read point.
///
/// Whoever removes a waiter resumes it, so each continuation is resumed exactly once whether
/// the answer comes from the apply loop, a rejection, a timeout or shutdown.
final class Waiters: Sendable {
    struct Proposal {
        var continuation: CheckedContinuation<CommandResult, any Error>
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


    /// Registers a proposal; `false` (and the continuation already failed) once closed.
    func register(seq: UInt64, _ continuation: CheckedContinuation<CommandResult, any Error>, deadline: UInt64) -> Bool {
        let closed = state.withLock { s -> ReplicationError? in
            if let c = s.closed { return c }
            s.proposals[seq] = Proposal(continuation: continuation, deadline: deadline)
            return nil
        }
        if let closed { continuation.resume(throwing: closed) }
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

    func setPosition(_ seq: UInt64, _ position: LogPosition) {
        state.withLock { s in
            guard s.proposals[seq] != nil else { return }
            s.proposals[seq]!.position = position
            s.byIndex[position.index, default: []].append(seq)
        }
    }

    /// Answers the proposals applied in one round and returns those that are now known lost,
    /// to be routed again: a proposal appended at an index of `entries` under another term (the
    /// entry was replaced), and one handed to the leader of a term older than an entry applied
    /// here (entries of a term precede every entry of a later term in the log, and a leader
    /// appends a forwarded command only in the term it was sent for, so it can never apply).
    func answer(_ results: [(UInt64, CommandResult)], entries: [(index: UInt64, term: UInt64)]) -> [UInt64] {
        var done: [(CheckedContinuation<CommandResult, any Error>, CommandResult)] = []
        var lost: [UInt64] = []
        state.withLock { s in
            for (seq, result) in results {
                if let w = s.proposals.removeValue(forKey: seq) { done.append((w.continuation, result)) }
            }
            if !s.byIndex.isEmpty {
                for e in entries {
                    guard let seqs = s.byIndex.removeValue(forKey: e.index) else { continue }
                    for seq in seqs {
                        guard let p = s.proposals[seq]?.position, p.index == e.index, p.term != e.term else { continue }
                        lost.append(seq)
                    }
                }
            }
            let top = entries.map(\.term).max() ?? 0
            if top > s.appliedTerm {
                s.appliedTerm = top
                for (seq, w) in s.proposals where w.routed && (w.term ?? top) < top { lost.append(seq) }
            }
            for seq in lost where s.proposals[seq] != nil {
                s.proposals[seq]!.position = nil
                s.proposals[seq]!.term = nil
            }
        }
        for (c, r) in done { c.resume(returning: r) }
        return Array(Set(lost))
    }

    func fail(_ seqs: some Sequence<UInt64>, _ error: ReplicationError) {
        let taken = state.withLock { s in seqs.compactMap { s.proposals.removeValue(forKey: $0)?.continuation } }
        for c in taken { c.resume(throwing: error) }
    }

    func completeRead(_ id: UInt64) {
        state.withLock { $0.reads.removeValue(forKey: id) }?.continuation.resume()
    }

    func failRead(_ id: UInt64, _ error: ReplicationError) {
        state.withLock { $0.reads.removeValue(forKey: id) }?.continuation.resume(throwing: error)
    }

    /// Fails everything whose deadline has passed.
    func expire(now: UInt64) {
        var proposals: [(CheckedContinuation<CommandResult, any Error>, ReplicationError)] = []
        var reads: [CheckedContinuation<Void, any Error>] = []
        state.withLock { s in
            for (seq, w) in s.proposals where w.deadline <= now {
                s.proposals[seq] = nil
                proposals.append((w.continuation, w.routed
                    ? ReplicationError(.timeout, "the write was not acknowledged in time; its outcome is unknown")
                    : ReplicationError(.unavailable, "no leader is available")))
            }
            for (id, r) in s.reads where r.deadline <= now {
                s.reads[id] = nil
                reads.append(r.continuation)
            }
        }
        for (c, e) in proposals { c.resume(throwing: e) }
        for c in reads { c.resume(throwing: ReplicationError(.unavailable, "no leader confirmed the read in time")) }
    }

    /// Fails every waiter and refuses new ones.
    func close(_ error: ReplicationError) {
        let (proposals, reads) = state.withLock { s in
            if s.closed == nil { s.closed = error }
            defer { s.proposals = [:]; s.reads = [:]; s.byIndex = [:] }
            return (s.proposals.values.map(\.continuation), s.reads.values.map(\.continuation))
        }
        for c in proposals { c.resume(throwing: error) }
        for c in reads { c.resume(throwing: error) }
    }
}
