// Log compaction and InstallSnapshot (paper §7; thesis chapter 5), streamed in chunks with one
// chunk in flight. A transfer restarts from byte 0 whenever the follower sees a different
// snapshot or sender, and resumes from the follower's offset otherwise.

/// A snapshot being received in chunks.
struct IncomingSnapshot: Sendable {
    var from: NodeID
    var term: UInt64
    var metadata: SnapshotMetadata
    var data: [UInt8]
}

extension RaftNode {
    /// The driver captured the state machine at `index` (at or below ``appliedIndex``) as `data`.
    /// Compacts the log through `index` and keeps the snapshot to stream to followers that need
    /// compacted entries (paper §7). Returns the metadata to persist with `data`; the driver may
    /// then delete its stored log entries through `index`.
    @discardableResult
    public mutating func snapshotTaken(index: UInt64, data: [UInt8]) throws(RaftError) -> SnapshotMetadata {
        guard index > log.snapshotIndex, index <= log.appliedIndex, let t = log.term(at: index) else {
            throw RaftError(.snapshotOutOfRange)
        }
        let meta = SnapshotMetadata(index: index, term: t, membership: log.membership(at: index))
        log.compact(to: index)
        snapshot = Snapshot(metadata: meta, data: data)
        return meta
    }

    /// Latest snapshot held by this node (taken locally or installed from the leader).
    public var latestSnapshotMetadata: SnapshotMetadata? { snapshot?.metadata }

    // MARK: Leader

    mutating func sendSnapshot(to: NodeID) -> Bool {
        guard let snap = snapshot, snap.metadata.index >= log.snapshotIndex else { return false }
        progress.with(to) {
            $0.becomeSnapshot(SnapshotTransfer(index: snap.metadata.index, term: snap.metadata.term,
                                               offset: 0, chunkInFlight: false, idleHeartbeats: 0))
        }
        return sendSnapshotChunk(to: to)
    }

    @discardableResult
    mutating func sendSnapshotChunk(to: NodeID) -> Bool {
        guard let snap = snapshot, let pr = progress[to], pr.state == .snapshot, var t = pr.snapshotTransfer,
              !t.chunkInFlight else { return false }
        if t.index != snap.metadata.index {
            // A newer snapshot replaced the one being sent: restart with it.
            t = SnapshotTransfer(index: snap.metadata.index, term: snap.metadata.term, offset: 0,
                                 chunkInFlight: false, idleHeartbeats: 0)
        }
        let total = UInt64(snap.data.count)
        let start = min(t.offset, total)
        let end = min(start + UInt64(max(configuration.snapshotChunkBytes, 1)), total)
        let chunk = Array(snap.data[Int(start)..<Int(end)])
        t.chunkInFlight = true
        t.idleHeartbeats = 0
        progress.with(to) { $0.snapshotTransfer = t }
        send(to: to, .snapshotChunk(metadata: snap.metadata, totalBytes: total, offset: start, data: chunk, done: end == total))
        return true
    }

    /// A chunk unanswered for a few heartbeats was probably lost: send it again.
    mutating func resendSnapshotChunkIfStuck(to: NodeID) {
        let resend = progress.with(to) { pr -> Bool in
            guard var t = pr.snapshotTransfer, t.chunkInFlight else { return false }
            t.idleHeartbeats += 1
            if t.idleHeartbeats > 2 { t.chunkInFlight = false }
            pr.snapshotTransfer = t
            return !t.chunkInFlight
        } ?? false
        if resend { sendSnapshotChunk(to: to) }
    }

    mutating func handleSnapshotResponse(from: NodeID, snapshotIndex: UInt64, nextOffset: UInt64, installedIndex: UInt64) {
        guard let pr = progress[from] else { return }
        progress.with(from) { $0.recentActive = true }
        if installedIndex > 0 {
            progress.with(from) { pr in
                _ = pr.maybeUpdate(installedIndex)
                if pr.state == .snapshot { pr.becomeProbe() }
            }
            if maybeCommit() { broadcastAppend(sendIfEmpty: true) } else { sendAppend(to: from, sendIfEmpty: true) }
            return
        }
        guard pr.state == .snapshot, let t = pr.snapshotTransfer, t.index == snapshotIndex else { return }
        progress.with(from) {
            $0.snapshotTransfer?.offset = nextOffset
            $0.snapshotTransfer?.chunkInFlight = false
        }
        sendSnapshotChunk(to: from)
    }

    // MARK: Follower

    mutating func handleSnapshotChunk(from: NodeID, meta: SnapshotMetadata, total: UInt64, offset: UInt64,
                                      data: [UInt8], done: Bool) {
        if meta.index <= log.commitIndex {
            // Already covered: report how far this node is known committed.
            incomingSnapshot = nil
            send(to: from, .snapshotResponse(snapshotIndex: meta.index, nextOffset: 0, installedIndex: log.commitIndex))
            return
        }
        if let inc = incomingSnapshot, inc.from == from, inc.term == term, inc.metadata == meta {
            // Continuing the same transfer.
        } else {
            guard offset == 0 else {
                send(to: from, .snapshotResponse(snapshotIndex: meta.index, nextOffset: 0, installedIndex: 0))
                return
            }
            incomingSnapshot = IncomingSnapshot(from: from, term: term, metadata: meta, data: [])
        }
        let have = UInt64(incomingSnapshot!.data.count)
        guard offset == have else {
            send(to: from, .snapshotResponse(snapshotIndex: meta.index, nextOffset: have, installedIndex: 0))
            return
        }
        incomingSnapshot!.data += data
        let received = UInt64(incomingSnapshot!.data.count)
        guard done, received == total else {
            send(to: from, .snapshotResponse(snapshotIndex: meta.index, nextOffset: received, installedIndex: 0))
            return
        }
        let complete = Snapshot(metadata: meta, data: incomingSnapshot!.data)
        incomingSnapshot = nil
        if log.matchTerm(meta.index, meta.term) {
            // The log already holds the snapshot's last entry: only the commit index moves (§7).
            log.commitIndex = max(log.commitIndex, meta.index)
        } else {
            log.restore(meta)
            snapshot = complete
            snapshotToInstall = complete
        }
        send(to: from, .snapshotResponse(snapshotIndex: meta.index, nextOffset: received, installedIndex: meta.index))
    }
}
