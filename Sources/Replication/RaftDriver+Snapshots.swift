import Foundation
import Logging
import Raft
import Storage

/// Snapshots of the applied state (docs/state-transfer.md): taking them (a RocksDB view the
/// apply thread captures between two rounds, written to a file by a thread of its own),
/// compacting the log behind them, streaming them to followers in chunks read from the file,
/// and on a follower receiving them into a staging file, verifying it and installing it through
/// the redo marker.
extension RaftDriver {
    /// Raft-thread state of snapshots.
    struct SnapshotState {
        let directory: SnapshotDirectory
        /// The file this node serves to followers (its latest complete snapshot).
        var reader: SnapshotFileReader?
        /// A snapshot file is being written.
        var writing = false
        /// Log bytes and entries written since the latest snapshot (the policy's measure).
        var bytesSince: UInt64 = 0
        var entriesSince: UInt64 = 0
        /// Operators waiting for a snapshot (`POST /admin/v1/snapshot`).
        var waiting: [@Sendable (Result<UInt64, ReplicationError>) -> Void] = []
        /// Staging files of transfers being received, by name.
        var incoming: [String: IncomingSnapshotFile] = [:]
        /// Verified files waiting for the core's go-ahead to install, by index and term.
        var verified: [LogPosition: VerifiedSnapshot] = [:]
        /// When each transfer being received started (monotonic nanoseconds), for its rate.
        var started: [String: UInt64] = [:]

        init(directory: String) { self.directory = SnapshotDirectory(path: directory) }
    }

    // MARK: Taking snapshots

    /// Asks for a snapshot now (any thread); `done` gets the snapshot's index.
    func requestSnapshot(_ done: @escaping @Sendable (Result<UInt64, ReplicationError>) -> Void) {
        runOnRaftThread({ driver in
            driver.snapshots.waiting.append(done)
            driver.takeSnapshotIfDue()
        }, ifDropped: { done(.failure(ReplicationError(.closed, "the node is shutting down"))) })
    }

    /// On a tick: a snapshot once enough log was written since the last one (or one is asked
    /// for), unless one is being written.
    func takeSnapshotIfDue() {
        guard admission == .member, !snapshots.writing else { return }
        let due = snapshots.bytesSince >= configuration.snapshotEveryBytes
            || snapshots.entriesSince >= configuration.snapshotEveryEntries || !snapshots.waiting.isEmpty
        guard due else { return }
        let latest = node.availableSnapshot?.metadata.index ?? 0
        guard applier.writtenIndex.load(ordering: .acquiring) > latest else {
            // Nothing applied since the latest snapshot: it is the answer.
            if latest > 0 || node.appliedIndex == 0 { answerSnapshotWaiters(.success(latest)) }
            return
        }
        snapshots.writing = true
        snapshots.bytesSince = 0
        snapshots.entriesSince = 0
        let directory = snapshots.directory.path
        applier.capture { [self] view in
            runOnRaftThread({ driver in
                guard let metadata = driver.node.snapshotMetadata(at: view.appliedIndex) else {
                    view.release()
                    driver.snapshotWritten(.failure(StorageError(.invalidArgument, "no log position \(view.appliedIndex) to snapshot")))
                    return
                }
                let peers = driver.knownAddresses.withLock { $0 }
                let thread = Thread {
                    let result: Result<WrittenSnapshot, StorageError>
                    do throws(StorageError) {
                        result = .success(try SnapshotFile.write(view, metadata: metadata, peers: peers, to: directory))
                    } catch {
                        result = .failure(error)
                    }
                    driver.runOnRaftThread { $0.snapshotWritten(result.map { ($0, metadata) }) }
                }
                thread.name = "runnel-snapshot"
                thread.start()
            }, ifDropped: { view.release() })
        }
    }

    private func snapshotWritten(_ result: Result<(WrittenSnapshot, SnapshotMetadata), StorageError>) {
        snapshots.writing = false
        switch result {
        case .success(let (written, metadata)):
            do {
                let reader = try SnapshotFileReader(path: written.path)
                try node.snapshotTaken(index: metadata.index, size: written.size)
                snapshots.reader = reader
                logger.info("took a snapshot", metadata: [
                    "raft.index": "\(metadata.index)", "snapshot.bytes": "\(written.size)", "snapshot.records": "\(written.recordCount)"])
                removeStaleSnapshotFiles()
                try compactIfDue(force: true)
                status.withLock { $0 = ClusterStatus(node: node, admission: admission) }
                answerSnapshotWaiters(.success(metadata.index))
            } catch {
                logger.error("a snapshot was written but cannot be used", metadata: ["error": "\(error)"])
                answerSnapshotWaiters(.failure(ReplicationError(.storage, "\(error)")))
            }
        case .failure(let error):
            logger.error("writing a snapshot failed", metadata: ["error": "\(error)"])
            answerSnapshotWaiters(.failure(ReplicationError(error)))
        }
    }

    func answerSnapshotWaiters(_ result: Result<UInt64, ReplicationError>) {
        let waiting = snapshots.waiting
        snapshots.waiting = []
        for done in waiting { done(result) }
    }

    /// Keeps the served file and the transfers being received.
    func removeStaleSnapshotFiles() {
        var keep = Set(snapshots.incoming.keys)
        if let reader = snapshots.reader { keep.insert((reader.path as NSString).lastPathComponent) }
        for v in snapshots.verified.values { keep.insert((v.path as NSString).lastPathComponent) }
        do { _ = try snapshots.directory.removeStale(keeping: keep) } catch {
            logger.warning("removing old snapshot files failed", metadata: ["error": "\(error)"])
        }
    }

    /// Counts what `persist` wrote toward the next snapshot.
    func noteLogWritten(_ entries: [Entry]) {
        snapshots.entriesSince += UInt64(entries.count)
        for e in entries { snapshots.bytesSince += UInt64(e.sizeInBytes) }
    }

    // MARK: Sending (leader)

    /// Reads the chunks the core asks for from the served file and sends them. On the Raft
    /// thread: a chunk is at most `snapshotChunkBytes` (1 MiB) of a file the page cache
    /// usually holds; never on an event loop.
    func sendSnapshotChunks(_ reads: [SnapshotChunkRead]) {
        for read in reads {
            var data: [UInt8] = []
            if read.length > 0 {
                guard let reader = snapshots.reader, reader.header.metadata == read.metadata else { continue }
                do { data = try reader.read(at: read.offset, length: read.length) } catch {
                    logger.warning("reading a snapshot chunk failed", metadata: ["error": "\(error)"])
                    continue
                }
            }
            if let message = node.snapshotChunkMessage(for: read, data: data) { send([message]) }
        }
    }

    // MARK: Receiving (follower)

    /// Step 2 for received chunks: append each to its transfer's staging file.
    func writeSnapshotChunks(_ chunks: [ReceivedSnapshotChunk]) throws(StorageError) {
        for chunk in chunks {
            let name = SnapshotDirectory.incomingName(index: chunk.metadata.index, term: chunk.metadata.term, from: chunk.from)
            if chunk.offset == 0 {
                // A transfer (re)starting from byte 0: whatever was staged for it is stale.
                try snapshots.incoming.removeValue(forKey: name)?.discard()
                for (other, file) in snapshots.incoming { try file.discard(); snapshots.incoming[other] = nil }
                let file = try IncomingSnapshotFile(directory: snapshots.directory.path, index: chunk.metadata.index,
                                                    term: chunk.metadata.term, from: chunk.from)
                if file.size > 0 {
                    try file.discard()
                    snapshots.incoming[name] = try IncomingSnapshotFile(directory: snapshots.directory.path, index: chunk.metadata.index,
                                                                        term: chunk.metadata.term, from: chunk.from)
                } else {
                    snapshots.incoming[name] = file
                }
                snapshots.started[name] = configuration.monotonicClock.nanoseconds()
                logger.info("receiving a snapshot", metadata: [
                    "raft.index": "\(chunk.metadata.index)", "snapshot.bytes": "\(chunk.totalBytes)", "from": "\(chunk.from)"])
            }
            guard let file = snapshots.incoming[name] else {
                throw StorageError(.invalidArgument, "snapshot chunk at \(chunk.offset) of a transfer with no staging file")
            }
            if case .wrongOffset(let size) = try file.append(chunk.data, at: chunk.offset) {
                throw StorageError(.invalidArgument, "snapshot chunk at \(chunk.offset), staging file holds \(size)")
            }
        }
    }

    /// Step 3 for the last chunk of a transfer: verify the staging file and tell the core.
    func finishSnapshotTransfers(_ chunks: [ReceivedSnapshotChunk]) throws(StorageError) {
        for chunk in chunks where chunk.done {
            let name = SnapshotDirectory.incomingName(index: chunk.metadata.index, term: chunk.metadata.term, from: chunk.from)
            guard let file = snapshots.incoming.removeValue(forKey: name) else { continue }
            switch try file.finish() {
            case .valid(let verified):
                guard verified.header.metadata == chunk.metadata else {
                    logger.warning("a received snapshot does not describe itself as announced; asking again")
                    node.snapshotReceived(metadata: chunk.metadata, valid: false)
                    continue
                }
                snapshots.verified[LogPosition(index: chunk.metadata.index, term: chunk.metadata.term)] = verified
                var metadata: Logger.Metadata = [
                    "raft.index": "\(chunk.metadata.index)", "snapshot.bytes": "\(verified.size)", "from": "\(chunk.from)"]
                if let started = snapshots.started.removeValue(forKey: name) {
                    let seconds = Double(configuration.monotonicClock.nanoseconds() - started) / 1e9
                    metadata["snapshot.seconds"] = "\(String(format: "%.2f", seconds))"
                    metadata["snapshot.mb_per_s"] = "\(String(format: "%.0f", Double(verified.size) / 1e6 / max(seconds, 1e-9)))"
                }
                logger.info("received a snapshot", metadata: metadata)
                node.snapshotReceived(metadata: chunk.metadata, valid: true)
            case .invalid(let reason):
                logger.warning("a received snapshot failed verification; asking again", metadata: ["reason": "\(reason)"])
                node.snapshotReceived(metadata: chunk.metadata, valid: false)
            }
        }
    }

    /// Step 2 for an installed snapshot: the redo marker, the new log start and the address
    /// book in one synced write. The apply thread installs the state (`enqueueInstall`).
    func beginInstall(_ metadata: SnapshotMetadata) throws(StorageError) -> VerifiedSnapshot {
        guard let verified = snapshots.verified.removeValue(forKey: LogPosition(index: metadata.index, term: metadata.term)) else {
            throw StorageError(.invalidArgument, "no verified snapshot file for index \(metadata.index) term \(metadata.term)")
        }
        let peers = knownAddresses.withLock { known in
            known.merge(verified.header.peers) { _, snapshot in snapshot }
            return known
        }
        try log.beginInstall(metadata, fileName: (verified.path as NSString).lastPathComponent, peers: peers)
        compactedThrough = metadata.index
        snapshots.reader = try? SnapshotFileReader(path: verified.path)
        snapshots.bytesSince = 0
        snapshots.entriesSince = 0
        updatePeers()
        return verified
    }

    /// At start (before the thread runs): the served file, and transfers half received before
    /// a restart, which resume from their staging file.
    func prepareSnapshots() {
        if let available = node.availableSnapshot,
           let latest = try? snapshots.directory.latest(), latest.index == available.metadata.index {
            snapshots.reader = try? SnapshotFileReader(path: latest.path)
        }
        resumeSnapshotTransfers()
        removeStaleSnapshotFiles()
    }

    private func resumeSnapshotTransfers() {
        guard let entries = try? snapshots.directory.entries() else { return }
        for entry in entries {
            guard case .incoming(let from) = entry.kind else { continue }
            do {
                let header = try SnapshotFile.header(path: entry.path)
                let file = try IncomingSnapshotFile(directory: snapshots.directory.path, index: entry.index, term: entry.term, from: from)
                if node.resumeIncomingSnapshot(metadata: header.metadata, from: from, receivedBytes: file.size) {
                    snapshots.incoming[entry.name] = file
                    logger.info("resuming a snapshot transfer", metadata: ["raft.index": "\(entry.index)", "snapshot.received": "\(file.size)"])
                    continue
                }
                try file.discard()
            } catch {
                try? FileManager.default.removeItem(atPath: entry.path)
            }
        }
    }
}
