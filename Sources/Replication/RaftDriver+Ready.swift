import Foundation
import Logging
import Raft
import Storage
import StreamModel
import Synchronization

/// Executing the Raft core's `Ready` in the order of docs/raft.md: send, persist (one synced
/// write), send what waited for the write, report it durable, hand committed entries to the
/// apply thread; and compaction of the log behind the applied state.
///
/// On a cluster, log writes go to the writer thread (LogWriter.swift) and this thread goes on
/// ticking and answering; the writer sends what waited and hands the written positions back
/// (`noteWritten`). Snapshot installs and received snapshot chunks, and every write of a node
/// without peers, are made here, after the writer's queue is drained.
extension RaftDriver {
    func processReady() throws(ReplicationError) {
        while node.hasReady {
            let ready = node.ready()
            send(ready.messages)
            sendSnapshotChunks(ready.snapshotChunkReads)
            var installing: VerifiedSnapshot?
            var writtenHere: LogPosition?
            let touchesSnapshots = ready.snapshot != nil || !ready.snapshotChunksReceived.isEmpty
            if writesOffThread, !touchesSnapshots {
                do { try submitWrite(ready) } catch { throw ReplicationError(error) }
            } else {
                if writesInFlight > 0 { waitForWrites() }
                if ready.needsPersist {
                    do {
                        if let snapshot = ready.snapshot { installing = try beginInstall(snapshot) }
                        try writeSnapshotChunks(ready.snapshotChunksReceived)
                        try persist(ready)
                    } catch {
                        throw ReplicationError(error)
                    }
                }
                send(ready.messagesAfterPersist)
                writtenHere = ready.persistedMark
            }
            if let installing, let snapshot = ready.snapshot {
                applier.enqueueInstall(path: installing.path, index: snapshot.index)
            }
            do { try finishSnapshotTransfers(ready.snapshotChunksReceived) } catch { throw ReplicationError(error) }
            if let mark = writtenHere { node.persisted(upTo: mark.index, term: mark.term) }
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

    /// Step 2 of the contract, on this thread. Entries, term and vote are synced; a change of
    /// the commit index alone is not (as in etcd: it is a restart hint, and a majority's logs
    /// hold the truth).
    func persist(_ ready: Ready) throws(StorageError) {
        try writer.perform([logWrite(ready)])
        try noteEntries(ready.entries)
    }

    /// Hands `ready`'s write to the writer thread, with the messages that wait for it. A
    /// `Ready` with nothing to write still goes through the queue when writes are in flight:
    /// its messages (an acknowledgement) may speak for entries of an earlier write.
    func submitWrite(_ ready: Ready) throws(StorageError) {
        guard ready.needsPersist || writesInFlight > 0 else {
            send(ready.messagesAfterPersist)
            return
        }
        writer.submit(logWrite(ready))
        writesInFlight += 1
        try noteEntries(ready.entries)
    }

    func logWrite(_ ready: Ready) -> LogWriter.Write {
        let termOrVoteChanged = ready.hardState.map {
            $0.term != lastSyncedHardState.term || $0.vote != lastSyncedHardState.vote
        } ?? false
        if let hs = ready.hardState, termOrVoteChanged { lastSyncedHardState = hs }
        return LogWriter.Write(entries: ready.entries, hardState: ready.hardState, sync: !ready.entries.isEmpty || termOrVoteChanged,
                               messages: ready.messagesAfterPersist, mark: ready.persistedMark)
    }

    /// What the Raft thread keeps of entries it has written or handed to the writer: peer
    /// addresses of configuration entries, snapshot policy counters, the latest command time.
    func noteEntries(_ entries: [Entry]) throws(StorageError) {
        guard !entries.isEmpty else { return }
        try noteConfigurationEntries(entries)
        noteLogWritten(entries)
        for entry in entries where entry.kind == .normal {
            if let t = CommandBatch.time(of: entry.data) { lastTime = max(lastTime, t) }
        }
    }

    /// The writer's completions: report what is durable to the core.
    func noteWritten(_ written: [LogWriter.Written]) {
        for w in written {
            writesInFlight -= w.writes
            for mark in w.marks { node.persisted(upTo: mark.index, term: mark.term) }
        }
    }

    /// Waits until the writer has made every submitted write durable, and reports them.
    func waitForWrites() {
        writer.drain()
        lock.lock()
        let written = inbox.written
        inbox.written = []
        lock.unlock()
        noteWritten(written)
    }

    /// A synced log write took `nanoseconds` (either thread).
    func noteSynced(entries: Int, nanoseconds: UInt64) {
        configuration.onEntrySynced?(entries, nanoseconds)
        lock.lock()
        lastSyncNanoseconds = nanoseconds
        stats.entries += UInt64(entries)
        stats.syncs += 1
        stats.syncNanoseconds += nanoseconds
        lock.unlock()
    }

    func send(_ messages: [Message]) {
        guard !messages.isEmpty, let transport else { return }
        var byPeer: [NodeID: [PeerFrame]] = [:]
        for m in messages { byPeer[m.to, default: []].append(.raft(m)) }
        for (peer, frames) in byPeer { transport.send(frames, to: peer) }
    }

    /// Compacts the log behind the latest snapshot, keeping a cushion of applied entries, and
    /// on the leader keeping what a live follower still needs, so followers catch up from the
    /// log (read back from RocksDB once the core evicted them) instead of needing a snapshot;
    /// a follower further behind than `maxFollowerLagEntries` no longer holds it back and gets
    /// the snapshot. `force` (after a new snapshot) skips the cushion's hysteresis.
    func compactIfDue(force: Bool = false) throws(StorageError) {
        guard let snapshot = node.availableSnapshot?.metadata.index, snapshot > compactedThrough else { return }
        let written = applier.writtenIndex.load(ordering: .acquiring)
        var through = min(snapshot, written, node.appliedIndex)
        through = through > configuration.retainedLogEntries ? through - configuration.retainedLogEntries : 0
        if node.role == .leader {
            for f in node.followers where node.lastIndex - min(f.match, node.lastIndex) <= configuration.maxFollowerLagEntries {
                through = min(through, f.match)
            }
        }
        guard through > compactedThrough, force || through > compactedThrough + configuration.retainedLogEntries / 2 else { return }
        let meta: SnapshotMetadata
        do { meta = try node.compact(through: through) } catch { return }
        // Not synced: the applied state it relies on was written earlier to the same WAL, so no
        // crash can keep this deletion and lose that state.
        try log.save(entries: [], snapshot: meta, compactThrough: through, sync: false)
        compactedThrough = through
    }

    func fail(_ error: ReplicationError) {
        lock.lock()
        if failure == nil { failure = error }
        lock.broadcast()
        lock.unlock()
        waiters.close(error)
    }
}
