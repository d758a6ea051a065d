// Log compaction and InstallSnapshot (paper §7; thesis chapter 5), streamed in chunks with one
// chunk in flight. The snapshot bytes never enter the core: the leader's driver reads chunks
// from its snapshot file (`Ready.snapshotChunkReads`), the follower's driver writes them to a
// staging file (`Ready.snapshotChunksReceived`) and verifies it before the core installs it. A
// transfer restarts from byte 0 whenever the follower sees a different snapshot or sender (or
// the file fails verification), and resumes from the follower's offset otherwise, also across a
// follower restart (`resumeIncomingSnapshot`).

/// A snapshot being received in chunks: only the count of bytes the driver has been handed.
struct IncomingSnapshot: Sendable {
    var from: NodeID
    /// The term the transfer started (or was last continued) in.
    var term: UInt64
    var metadata: SnapshotMetadata
    /// Size of the whole file, as the first chunk said (unknown for a resumed transfer until
    /// its next chunk).
    var totalBytes: UInt64?
    /// Bytes accepted so far (handed to the driver, or found in its staging file on resume).
    var received: UInt64
    /// Resumed after a restart: the next chunk from `from` for `metadata` continues it in any term.
    var resumed: Bool
    /// Every byte arrived; waiting for ``RaftNode/snapshotReceived(metadata:valid:)``.
    var awaitingVerification = false
}

extension RaftNode {
    /// The metadata a snapshot at `index` carries (term and membership there), for the driver to
    /// write in the snapshot file's header before it calls ``snapshotTaken(index:size:)``; nil if
    /// `index` is compacted, beyond the applied index, or 0.
    public func snapshotMetadata(at index: UInt64) -> SnapshotMetadata? {
        guard index > 0, index <= log.appliedIndex, let t = log.term(at: index) else { return nil }
        return SnapshotMetadata(index: index, term: t, membership: log.membership(at: index))
    }

    /// The driver wrote a snapshot file of `size` bytes capturing the state machine at `index`
    /// (at or below ``appliedIndex``, above the previous snapshot). The node streams it to
    /// followers that need entries at or below the log start (paper §7); it does not compact the
    /// log: ``compact(through:)`` does. Returns the snapshot's metadata.
    @discardableResult
    public mutating func snapshotTaken(index: UInt64, size: UInt64) throws(RaftError) -> SnapshotMetadata {
        guard let meta = snapshotMetadata(at: index), index > snapshot?.metadata.index ?? 0 else {
            throw RaftError(.snapshotOutOfRange)
        }
        snapshot = Snapshot(metadata: meta, size: size)
        return meta
    }

    /// Discards log entries through `index`, which must be at or below the latest snapshot's
    /// index and the applied index (paper §7): a follower that needs them gets the snapshot.
    /// Returns the metadata of the new log start, to persist before the driver deletes its
    /// stored entries through `index`. Compacting at or below the current start changes nothing.
    @discardableResult
    public mutating func compact(through index: UInt64) throws(RaftError) -> SnapshotMetadata {
        guard let snap = snapshot, index <= snap.metadata.index, index <= log.appliedIndex else {
            throw RaftError(.compactionOutOfRange)
        }
        log.compact(to: index)
        return SnapshotMetadata(index: log.snapshotIndex, term: log.snapshotTerm, membership: log.baseMembership)
    }

    /// Latest snapshot held by this node (taken locally or installed from the leader).
    public var latestSnapshotMetadata: SnapshotMetadata? { snapshot?.metadata }

    /// The snapshot file this node serves to followers (metadata and size), if any.
    public var availableSnapshot: Snapshot? { snapshot }

    // MARK: Leader

    mutating func sendSnapshot(to: NodeID) -> Bool {
        guard let snap = snapshot, snap.metadata.index >= log.snapshotIndex else { return false }
        progress.with(to) {
            $0.becomeSnapshot(SnapshotTransfer(index: snap.metadata.index, term: snap.metadata.term,
                                               offset: 0, chunkInFlight: false, idleHeartbeats: 0))
        }
        return sendSnapshotChunk(to: to)
    }

    /// Asks the driver to read and send the next chunk (`Ready.snapshotChunkReads`).
    @discardableResult
    mutating func sendSnapshotChunk(to: NodeID) -> Bool {
        guard let snap = snapshot, let pr = progress[to], pr.state == .snapshot, var t = pr.snapshotTransfer,
              !t.chunkInFlight else { return false }
        if t.index != snap.metadata.index {
            // A newer snapshot replaced the one being sent: restart with it.
            t = SnapshotTransfer(index: snap.metadata.index, term: snap.metadata.term, offset: 0,
                                 chunkInFlight: false, idleHeartbeats: 0)
        }
        let total = snap.size
        let start = min(t.offset, total)
        let end = start + min(UInt64(max(configuration.snapshotChunkBytes, 1)), total - start)
        t.chunkInFlight = true
        t.idleHeartbeats = 0
        progress.with(to) { $0.snapshotTransfer = t }
        out.snapshotChunkReads.append(SnapshotChunkRead(
            to: to, metadata: snap.metadata, totalBytes: total, offset: start, length: Int(end - start),
            done: end == total, term: term))
        return true
    }

    /// The message carrying a chunk the driver read for `read`, from this node in the read's
    /// term; nil (send nothing) if this node no longer leads that term or `data` is not the
    /// requested length (a failed or short read: the core resends the chunk when it stays
    /// unanswered).
    public func snapshotChunkMessage(for read: SnapshotChunkRead, data: [UInt8]) -> Message? {
        guard role == .leader, term == read.term, data.count == read.length else { return nil }
        return Message(from: id, to: read.to, term: read.term, payload: .snapshotChunk(
            metadata: read.metadata, totalBytes: read.totalBytes, offset: read.offset, data: data, done: read.done))
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
        if let inc = incomingSnapshot, inc.from == from, inc.metadata == meta, inc.term == term || inc.resumed,
           inc.totalBytes ?? total == total {
            // Continuing the same transfer (a resumed one adopts the sender's current term).
            incomingSnapshot!.term = term
            incomingSnapshot!.totalBytes = total
            incomingSnapshot!.resumed = false
            // Every byte is in; the answer waits for the driver's verification.
            if inc.awaitingVerification { return }
        } else {
            guard offset == 0 else {
                send(to: from, .snapshotResponse(snapshotIndex: meta.index, nextOffset: 0, installedIndex: 0))
                return
            }
            incomingSnapshot = IncomingSnapshot(from: from, term: term, metadata: meta, totalBytes: total, received: 0,
                                                resumed: false)
        }
        let have = incomingSnapshot!.received
        guard offset == have else {
            send(to: from, .snapshotResponse(snapshotIndex: meta.index, nextOffset: have, installedIndex: 0))
            return
        }
        let (received, overflow) = have.addingReportingOverflow(UInt64(data.count))
        guard !overflow, received <= total, done == (received == total) else {
            // Inconsistent sizes: drop what was received and start over from byte 0.
            incomingSnapshot = nil
            send(to: from, .snapshotResponse(snapshotIndex: meta.index, nextOffset: 0, installedIndex: 0))
            return
        }
        out.snapshotChunksReceived.append(ReceivedSnapshotChunk(
            from: from, metadata: meta, totalBytes: total, offset: offset, data: data, done: done))
        incomingSnapshot!.received = received
        if done {
            incomingSnapshot!.awaitingVerification = true
        } else {
            send(to: from, .snapshotResponse(snapshotIndex: meta.index, nextOffset: received, installedIndex: 0))
        }
    }

    /// The driver has the whole snapshot `metadata` in its staging file (the last chunk of
    /// ``Ready/snapshotChunksReceived`` is durable) and checked it. If `valid`, the node installs
    /// it (paper §7 receiver steps 6–8): when the log already holds the snapshot's last entry only
    /// the commit index moves, otherwise the log is replaced and ``Ready/snapshot`` asks the driver
    /// to install the file; the leader hears of it once that is durable. If not `valid` (checksum
    /// mismatch), the transfer is dropped and the leader told to start over from byte 0. Ignored
    /// unless the node is waiting for exactly this snapshot.
    public mutating func snapshotReceived(metadata: SnapshotMetadata, valid: Bool) {
        guard let inc = incomingSnapshot, inc.awaitingVerification, inc.metadata == metadata else { return }
        incomingSnapshot = nil
        guard valid else {
            send(to: inc.from, .snapshotResponse(snapshotIndex: metadata.index, nextOffset: 0, installedIndex: 0))
            return
        }
        if metadata.index <= log.commitIndex || role == .leader {
            // Covered meanwhile by appends (a leader's log holds every committed entry, §5.4).
            send(to: inc.from, .snapshotResponse(snapshotIndex: metadata.index, nextOffset: 0, installedIndex: log.commitIndex))
            return
        }
        if log.matchTerm(metadata.index, metadata.term) {
            // The log already holds the snapshot's last entry: only the commit index moves (§7).
            log.commitIndex = max(log.commitIndex, metadata.index)
        } else {
            log.restore(metadata)
            snapshot = Snapshot(metadata: metadata, size: inc.received)
            snapshotToInstall = metadata
        }
        send(to: inc.from, .snapshotResponse(snapshotIndex: metadata.index, nextOffset: inc.received, installedIndex: metadata.index))
    }

    /// Tells a freshly started node that the driver's staging file already holds
    /// `receivedBytes` bytes of snapshot `metadata` sent by `from` (a transfer interrupted by a
    /// restart). The next chunk from `from` for the same snapshot continues at that offset,
    /// whatever its term; anything else restarts the transfer from byte 0. Returns false when
    /// the snapshot is no longer needed (it is at or below the commit index): the driver may
    /// delete the staging file.
    @discardableResult
    public mutating func resumeIncomingSnapshot(metadata: SnapshotMetadata, from: NodeID, receivedBytes: UInt64) -> Bool {
        guard metadata.index > log.commitIndex, from != 0, from != id else { return false }
        incomingSnapshot = IncomingSnapshot(from: from, term: term, metadata: metadata, totalBytes: nil,
                                            received: receivedBytes, resumed: true)
        return true
    }
}
