import Logging
import Raft
import Synchronization

/// Read barriers (ReadIndex, Raft thesis §6.4): reads are asked of the leader in batches and
/// asked again when the answer does not come.
extension RaftDriver {
    func routeReads(now: UInt64) {
        guard !unroutedReads.isEmpty else { return }
        var waiting: [UInt64] = []
        for read in unroutedReads {
            do {
                try node.readIndex(context: ReadContext.make(read))
                askedReads[read] = now
            } catch {
                waiting.append(read)  // no leader yet: the waiter's deadline bounds the wait
            }
        }
        unroutedReads = waiting
    }

    /// A read forwarded to a leader that lost it is never answered: ask again.
    func retryStaleReads(now: UInt64) {
        let stale = configuration.tickNanoseconds * UInt64(configuration.raft.electionTicks)
        for (read, asked) in askedReads where now - asked > stale {
            askedReads[read] = nil
            unroutedReads.append(read)
        }
    }

}
