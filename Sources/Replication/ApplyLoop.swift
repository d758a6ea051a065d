import BinaryCodec
import Foundation
import Logging
import Raft
import Storage
import StreamModel
import Synchronization

/// The apply thread: applies committed entries in log order to the state machine, writes
/// their effects and the applied index in one unsynced batch (the Raft log is fsynced;
/// replay rebuilds anything lost), publishes the changed rows to readers, answers this node's
/// waiting clients, serves read points and wakes live readers.
///
/// It runs beside the Raft thread, so the next fsync proceeds while this round applies.
final class ApplyLoop: @unchecked Sendable {
    private enum Work {
        case entries([Entry])
        case reads([ReadState])
        /// Replace the whole state with a verified snapshot file (docs/state-transfer.md §3).
        case install(path: String, index: UInt64)
        /// Capture a consistent view of the state as applied so far, for a snapshot file.
        case capture(@Sendable (StateView) -> Void)
    }

    private let nodeID: UInt64
    private let state: StateStore
    private let waiters: Waiters
    private let logger: Logger

    // Guarded by `lock`.
    private let lock = NSCondition()
    private var queue: [Work] = []
    private var stopping = false
    private var running = false
    private var listeners: [@Sendable (Set<UInt64>) -> Void] = []

    /// The applied index whose effects are written (not necessarily synced) to RocksDB.
    let writtenIndex: Atomic<UInt64>
    /// Set when applying or writing failed; the node's write path is dead.
    let failure = Mutex<ReplicationError?>(nil)

    // Owned by the apply thread.
    private var model: StreamModel
    private var appliedIndex: UInt64
    private var pendingReads: [ReadState] = []

    /// Called on the apply thread after each applied round, before clients are answered.
    var onApplied: (@Sendable (AppliedChanges) -> Void)?
    /// Called with proposals of this node found lost (never to apply): the driver routes them
    /// again.
    var onLost: (@Sendable ([Waiters.LostRouting]) -> Void)?
    /// Called on the apply thread with the new state once a snapshot is installed, before
    /// live readers are woken.
    var onInstalled: (@Sendable (StreamModel, UInt64) -> Void)?
    /// Clears the install's redo marker (`LogStore.finishInstall`).
    var finishInstall: (@Sendable () throws(StorageError) -> Void)?
    /// True from the start of a snapshot install until the new state is published: the stored
    /// state is half old, half new, and nothing may read it.
    let installing = Atomic<Bool>(false)
    /// Called when applying fails (the driver stops).
    var onFailure: (@Sendable (ReplicationError) -> Void)?

    init(nodeID: UInt64, state: StateStore, model: StreamModel, appliedIndex: UInt64, waiters: Waiters, logger: Logger) {
        self.nodeID = nodeID
        self.state = state
        self.model = model
        self.appliedIndex = appliedIndex
        self.waiters = waiters
        self.logger = logger
        writtenIndex = Atomic(appliedIndex)
    }

    func start() {
        running = true
        let thread = Thread { [self] in run() }
        thread.name = "runnel-apply"
        thread.start()
    }

    /// Applies what is queued, then stops.
    func stop() {
        lock.lock()
        stopping = true
        lock.broadcast()
        while running { lock.wait() }
        lock.unlock()
    }

    func addListener(_ listener: @escaping @Sendable (Set<UInt64>) -> Void) {
        lock.lock()
        listeners.append(listener)
        lock.unlock()
    }

    /// Queues the install of a verified snapshot file at `index`; entries queued after it apply
    /// on top of it.
    func enqueueInstall(path: String, index: UInt64) {
        lock.lock()
        queue.append(.install(path: path, index: index))
        lock.signal()
        lock.unlock()
    }

    /// Calls `body` on the apply thread, between two rounds, with a view of the state as
    /// applied so far (its `appliedIndex` says where); `body` must release it.
    func capture(_ body: @escaping @Sendable (StateView) -> Void) {
        lock.lock()
        queue.append(.capture(body))
        lock.signal()
        lock.unlock()
    }

    func enqueue(entries: [Entry], reads: [ReadState]) {
        guard !entries.isEmpty || !reads.isEmpty else { return }
        lock.lock()
        if !entries.isEmpty { queue.append(.entries(entries)) }
        if !reads.isEmpty { queue.append(.reads(reads)) }
        lock.signal()
        lock.unlock()
    }

    private func next() -> [Work]? {
        lock.lock()
        defer { lock.unlock() }
        while queue.isEmpty {
            if stopping { return nil }
            lock.wait()
        }
        let work = queue
        queue.removeAll(keepingCapacity: true)
        return work
    }

    private func run() {
        while let work = next() {
            var entries: [Entry] = []
            do {
                for item in work {
                    switch item {
                    case .entries(let e): entries += e
                    case .reads(let r): pendingReads += r
                    case .install(let path, let index):
                        try apply(entries)
                        entries = []
                        try install(path: path, index: index)
                    case .capture(let body):
                        try apply(entries)
                        entries = []
                        body(try state.captureView())
                    }
                }
                try apply(entries)
            } catch {
                logger.critical("applying committed entries failed; refusing further writes", metadata: ["error": "\(error)"])
                let failed = ReplicationError(error)
                failure.withLock { $0 = failed }
                onFailure?(failed)
                break
            }
            serveReads()
        }
        lock.lock()
        running = false
        lock.broadcast()
        lock.unlock()
    }

    /// Replaces the state with the snapshot file's (the Raft thread already wrote the redo
    /// marker), publishes it, and wakes every live reader: any stream may have changed or gone.
    private func install(path: String, index: UInt64) throws(StorageError) {
        installing.store(true, ordering: .sequentiallyConsistent)
        defer { installing.store(false, ordering: .sequentiallyConsistent) }
        let before = Set(model.streams.values.map(\.id))
        let installed = try state.install(from: path)
        guard installed.appliedIndex == index else {
            throw StorageError(.corruption, "snapshot file \(path) installed index \(installed.appliedIndex), not \(index)")
        }
        try finishInstall?()
        model = installed.model
        appliedIndex = installed.appliedIndex
        writtenIndex.store(appliedIndex, ordering: .releasing)
        onInstalled?(model, appliedIndex)
        waiters.snapshotInstalled()
        logger.info("installed a snapshot", metadata: ["raft.index": "\(index)", "streams": "\(model.streams.count)"])
        let woken = before.union(model.streams.values.map(\.id))
        if !woken.isEmpty {
            lock.lock()
            let listeners = self.listeners
            lock.unlock()
            for listener in listeners { listener(woken) }
        }
    }

    private func apply(_ entries: [Entry]) throws(StorageError) {
        guard !entries.isEmpty else { return }
        var effects = ApplyEffects()
        var results: [(UInt64, CommandResult)] = []
        var applied: [(index: UInt64, term: UInt64)] = []
        for entry in entries where entry.index > appliedIndex {
            applied.append((entry.index, entry.term))
            guard entry.kind == .normal else { continue }
            let batch: CommandBatch
            do { batch = try CommandBatch.decode(entry.data) } catch {
                throw StorageError(error, "log entry \(entry.index)")
            }
            for (tag, command) in batch.commands {
                let result = model.apply(command, now: batch.time, effects: &effects)
                if tag.origin == nodeID { results.append((tag.seq, result)) }
            }
        }
        guard let last = applied.last else { return }
        try state.persist(effects, model: model, appliedIndex: last.index)
        appliedIndex = last.index
        writtenIndex.store(last.index, ordering: .releasing)
        onApplied?(AppliedChanges(
            streams: effects.changedStreams.map { ($0, model.streams[$0]) },
            buckets: effects.changedBuckets.map { ($0, model.buckets[$0]) },
            keys: effects.changedKeys.map { ($0, model.apiKeys[$0]) },
            appliedIndex: last.index, woken: effects.wake))
        let lost = waiters.answer(results, entries: applied)
        if !lost.isEmpty { onLost?(lost) }
        if !effects.wake.isEmpty {
            lock.lock()
            let listeners = self.listeners
            lock.unlock()
            for listener in listeners { listener(effects.wake) }
        }
    }

    private func serveReads() {
        guard !pendingReads.isEmpty else { return }
        var waiting: [ReadState] = []
        for read in pendingReads {
            if read.index <= appliedIndex {
                waiters.completeRead(ReadContext.id(read.context))
            } else {
                waiting.append(read)
            }
        }
        pendingReads = waiting
    }
}

/// ReadIndex contexts are a waiter id, big-endian.
enum ReadContext {
    static func make(_ id: UInt64) -> [UInt8] { BigEndian.bytes(id) }
    static func id(_ context: [UInt8]) -> UInt64 { context.count == 8 ? (try? BigEndian.read(UInt64.self, from: context)) ?? 0 : 0 }
}
