import Foundation
import Logging
import Raft
import Storage
import StreamModel
import Synchronization

/// Executing the Raft core's `Ready` in the order of docs/raft.md: send, persist (one synced
/// write), send what waited for the write, report it durable, hand committed entries to the
/// apply thread; and compaction of the log behind the applied state.
extension RaftDriver {
    func processReady() throws(ReplicationError) {
        while node.hasReady {
            let ready = node.ready()
            send(ready.messages)
            sendSnapshotChunks(ready.snapshotChunkReads)
            if ready.snapshot != nil || !ready.snapshotChunksReceived.isEmpty {
                // The leader compacted entries this node still needs. Installing a snapshot
                // means transferring the applied state (docs/cluster.md, "Gaps"); until that
                // exists the node stops rather than diverge.
                throw ReplicationError(.unavailable, "this node needs a snapshot from the leader, which this version cannot install")
            }
            if ready.needsPersist {
                do { try persist(ready) } catch { throw ReplicationError(error) }
            }
            send(ready.messagesAfterPersist)
            if let mark = ready.persistedMark { node.persisted(upTo: mark.index, term: mark.term) }
            for context in ready.readStates.map(\.context) { askedReads[ReadContext.id(context)] = nil }
            applier.enqueue(entries: ready.committedEntries, reads: ready.readStates)
            for context in ready.abandonedReads {
                let read = ReadContext.id(context)
                askedReads[read] = nil
                unroutedReads.append(read)
            }
            if let soft = ready.softState {
                lock.withLock { isLeader = soft.role == .leader }
                status.withLock { $0 = ClusterStatus(node: node, admission: admission) }
                onRoleChange?(soft.role)
                logger.info("raft role changed", metadata: [
                    "role": "\(soft.role)", "term": "\(soft.term)", "leader": "\(soft.leader)"])
            }
        }
    }

    /// Step 2 of the contract. Entries, term and vote are synced; a change of the commit index
    /// alone is not (as in etcd: it is a restart hint, and a majority's logs hold the truth).
    func persist(_ ready: Ready) throws(StorageError) {
        let termOrVoteChanged = ready.hardState.map {
            $0.term != lastSyncedHardState.term || $0.vote != lastSyncedHardState.vote
        } ?? false
        guard !ready.entries.isEmpty || termOrVoteChanged else {
            try log.save(entries: [], hardState: ready.hardState, sync: false)
            return
        }
        let started = configuration.monotonicClock.nanoseconds()
        try log.save(entries: ready.entries, hardState: ready.hardState, sync: true)
        let elapsed = configuration.monotonicClock.nanoseconds() - started
        if let hs = ready.hardState { lastSyncedHardState = hs }
        try noteConfigurationEntries(ready.entries)
        for entry in ready.entries where entry.kind == .normal {
            if let t = CommandBatch.time(of: entry.data) { lastTime = max(lastTime, t) }
        }
        configuration.onEntrySynced?(ready.entries.count, elapsed)
        lock.lock()
        lastSyncNanoseconds = elapsed
        stats.entries += UInt64(ready.entries.count)
        stats.syncs += 1
        stats.syncNanoseconds += elapsed
        lock.unlock()
    }

    func send(_ messages: [Message]) {
        guard !messages.isEmpty, let transport else { return }
        var byPeer: [NodeID: [PeerFrame]] = [:]
        for m in messages { byPeer[m.to, default: []].append(.raft(m)) }
        for (peer, frames) in byPeer { transport.send(frames, to: peer) }
    }

    /// Serves the core's snapshot chunk reads. This version's snapshots are empty compaction
    /// points (`compactIfDue`), so every read is of zero bytes; a follower that receives one
    /// stops with `unavailable` (above). Reading real snapshot files comes with state transfer
    /// (docs/state-transfer.md §2).
    func sendSnapshotChunks(_ reads: [SnapshotChunkRead]) {
        for read in reads where read.length == 0 {
            if let message = node.snapshotChunkMessage(for: read, data: []) { send([message]) }
        }
    }

    /// Compacts the log behind the applied state, keeping a cushion, and on the leader keeping
    /// what a live follower still needs, so followers catch up from the log instead of needing
    /// a snapshot; a follower further behind than `maxFollowerLagEntries` no longer holds it back.
    func compactIfDue() throws(StorageError) {
        let written = applier.writtenIndex.load(ordering: .acquiring)
        guard written > configuration.retainedLogEntries else { return }
        var through = min(written, node.appliedIndex) - configuration.retainedLogEntries
        if node.role == .leader {
            for f in node.followers where node.lastIndex - f.match <= configuration.maxFollowerLagEntries {
                through = min(through, f.match)
            }
        }
        guard through > compactedThrough + configuration.retainedLogEntries / 2 else { return }
        let meta: SnapshotMetadata
        do {
            // An empty snapshot (no state file yet): the compaction point a follower would need.
            try node.snapshotTaken(index: through, size: 0)
            meta = try node.compact(through: through)
        } catch {
            return
        }
        // Not synced: the applied state it relies on was written earlier to the same WAL, so no
        // crash can keep this deletion and lose that state.
        try log.save(entries: [], snapshot: meta, compactThrough: through, sync: false)
        compactedThrough = through
    }

    func fail(_ error: ReplicationError) {
        lock.lock()
        failure = error
        lock.unlock()
        waiters.close(error)
    }
}
