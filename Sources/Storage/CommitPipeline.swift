import Foundation
import Logging
import StreamModel
import Synchronization

/// The propose → persist → commit → apply path of a one-voter log, on two dedicated
/// threads so that neither RocksDB nor fsync ever blocks an event loop or the cooperative
/// pool.
///
/// - The **log thread** takes every waiting proposal (up to the entry limits), stamps the
///   leader time, writes them as one entry with `sync` — one fsync for all of them (group
///   commit) — and hands the entry on. While it syncs, new proposals queue up for the next
///   entry, so the batch grows with the load.
/// - The **apply thread** applies committed entries in log order to the state machine,
///   writes their effects and the applied index in one unsynced batch, publishes the new
///   state to readers, then answers the proposers.
///
/// A Raft leader keeps the same shape; only "persisted" stops meaning "committed".
final class CommitPipeline: @unchecked Sendable {
    private struct Proposal {
        var command: Command
        var continuation: CheckedContinuation<CommandResult, any Error>
        var size: Int
    }

    private struct Committed {
        var index: UInt64
        var batch: CommandBatch
        var waiters: [CheckedContinuation<CommandResult, any Error>]
    }

    private let configuration: StorageConfiguration
    private let log: LogStore
    private let state: StateStore
    private let logger: Logger

    // Guarded by `lock`.
    private let lock = NSCondition()
    private var pending: [Proposal] = []
    private var committed: [Committed] = []
    private var stopping = false
    private var failure: StorageError?
    private var durableApplied: UInt64 = 0
    private var listeners: [@Sendable (Set<UInt64>) -> Void] = []
    private var stats = CommitStatistics()
    private var threadsRunning = 0
    /// While the log thread lingers, the queue length that ends the linger early.
    private var lingerTarget = 0
    private var lastBatchSize = 0
    private var lastSyncDuration: Duration = .zero

    // Owned by the log thread.
    private var lastIndex: UInt64
    private var lastTime: Int64
    private var compactedThrough: UInt64 = 0

    // Owned by the apply thread.
    private var model: StreamModel

    /// Called on the apply thread after each applied round, before proposers are answered.
    var onApplied: (@Sendable (AppliedChanges) -> Void)?

    init(configuration: StorageConfiguration, log: LogStore, state: StateStore, model: StreamModel,
         lastIndex: UInt64, lastTime: Int64, logger: Logger) {
        self.configuration = configuration
        self.log = log
        self.state = state
        self.model = model
        self.lastIndex = lastIndex
        self.lastTime = lastTime
        self.logger = logger
        durableApplied = lastIndex
    }

    func start() {
        threadsRunning = 2
        let logThread = Thread { [self] in runLogThread() }
        logThread.name = "runnel-log"
        logThread.start()
        let applyThread = Thread { [self] in runApplyThread() }
        applyThread.name = "runnel-apply"
        applyThread.start()
    }

    func stop() {
        lock.lock()
        stopping = true
        lock.broadcast()
        while threadsRunning > 0 { lock.wait() }
        lock.unlock()
    }

    func addListener(_ listener: @escaping @Sendable (Set<UInt64>) -> Void) {
        lock.lock()
        listeners.append(listener)
        lock.unlock()
    }

    var statistics: CommitStatistics {
        lock.lock()
        defer { lock.unlock() }
        return stats
    }

    func propose(_ command: Command) async throws(StorageError) -> CommandResult {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                lock.lock()
                if let failure {
                    lock.unlock()
                    continuation.resume(throwing: failure)
                    return
                }
                if stopping {
                    lock.unlock()
                    continuation.resume(throwing: StorageError(.closed, "the store is shutting down"))
                    return
                }
                if pending.count >= configuration.maxPendingProposals {
                    lock.unlock()
                    continuation.resume(throwing: StorageError(.busy, "too many proposals waiting"))
                    return
                }
                pending.append(Proposal(command: command, continuation: continuation, size: command.approximateSize))
                if pending.count == 1 || (lingerTarget > 0 && pending.count >= lingerTarget) { lock.broadcast() }
                lock.unlock()
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.io, "\(error)")
        }
    }

    // MARK: Log thread

    private func runLogThread() {
        while let proposals = nextProposals() {
            let time = max(lastTime, configuration.clock())
            lastTime = time
            let batch = CommandBatch(time: time, commands: proposals.map(\.command))
            let index = lastIndex + 1
            let entry = LogEntry(index: index, term: 1, kind: .commands, data: batch.encoded())

            lock.lock()
            let applied = durableApplied
            lock.unlock()
            // Entries applied before this synced write are durable once it returns (the WAL is
            // sequential), so those beyond the retention cushion can go in the same write.
            var compact: UInt64?
            if applied > configuration.retainedLogEntries + compactedThrough + configuration.retainedLogEntries {
                compact = applied - configuration.retainedLogEntries
            }
            let started = DispatchTime.now().uptimeNanoseconds
            do {
                try log.append([entry], compactThrough: compact, sync: true)
            } catch {
                fail(error, waiters: proposals.map(\.continuation))
                break
            }
            let elapsed = DispatchTime.now().uptimeNanoseconds - started
            if let compact { compactedThrough = compact }
            lastIndex = index
            configuration.onEntrySynced?(proposals.count, elapsed)

            lock.lock()
            stats.entries += 1
            stats.commands += UInt64(proposals.count)
            stats.syncs += 1
            stats.syncNanoseconds += elapsed
            lastSyncDuration = .nanoseconds(Int64(elapsed))
            committed.append(Committed(index: index, batch: batch, waiters: proposals.map(\.continuation)))
            lock.broadcast()
            lock.unlock()
        }
        finishThread()
    }

    /// Waits for proposals and takes as many as fit one entry; `nil` once stopping and drained.
    private func nextProposals() -> [Proposal]? {
        lock.lock()
        defer { lock.unlock() }
        while pending.isEmpty {
            if stopping || failure != nil { return nil }
            lock.wait()
        }
        if failure != nil { return nil }
        // Adaptive linger: when fewer proposals wait than the last entry carried, the others
        // are most likely being answered and about to propose again. Waiting for them — never
        // longer than one fsync took — lets one fsync carry them all instead of two.
        let lingerLimit = min(configuration.maxLinger, lastSyncDuration)
        if pending.count < lastBatchSize && lingerLimit > .zero {
            let seconds = Double(lingerLimit.components.attoseconds) / 1e18 + Double(lingerLimit.components.seconds)
            let deadline = Date(timeIntervalSinceNow: seconds)
            lingerTarget = lastBatchSize
            while pending.count < lingerTarget && !stopping && failure == nil {
                if !lock.wait(until: deadline) { break }
            }
            lingerTarget = 0
        }
        var count = 0
        var bytes = 0
        while count < pending.count && count < configuration.maxCommandsPerEntry {
            bytes += pending[count].size
            count += 1
            if bytes >= configuration.maxBytesPerEntry { break }
        }
        let taken = Array(pending[..<count])
        pending.removeFirst(count)
        lastBatchSize = count
        return taken
    }

    // MARK: Apply thread

    private func runApplyThread() {
        while let round = nextCommitted() {
            var effects = ApplyEffects()
            var answers: [(CheckedContinuation<CommandResult, any Error>, CommandResult)] = []
            for entry in round {
                for (command, waiter) in zip(entry.batch.commands, entry.waiters) {
                    answers.append((waiter, model.apply(command, now: entry.batch.time, effects: &effects)))
                }
            }
            let appliedIndex = round.last!.index
            do {
                try state.persist(effects, model: model, appliedIndex: appliedIndex)
            } catch {
                fail(error, waiters: answers.map(\.0))
                break
            }
            let changes = AppliedChanges(
                streams: effects.changedStreams.map { ($0, model.streams[$0]) },
                buckets: effects.changedBuckets.map { ($0, model.buckets[$0]) },
                appliedIndex: appliedIndex, woken: effects.wake)
            onApplied?(changes)

            lock.lock()
            durableApplied = appliedIndex
            let listeners = self.listeners
            lock.unlock()

            for (waiter, result) in answers { waiter.resume(returning: result) }
            if !effects.wake.isEmpty {
                for listener in listeners { listener(effects.wake) }
            }
        }
        finishThread()
    }

    private func nextCommitted() -> [Committed]? {
        lock.lock()
        defer { lock.unlock() }
        while committed.isEmpty {
            if failure != nil { return nil }
            if stopping && pending.isEmpty && threadsRunning < 2 { return nil }
            lock.wait()
        }
        let round = committed
        committed.removeAll(keepingCapacity: true)
        return round
    }

    // MARK: Failure and shutdown

    /// A storage failure is fatal for the node's write path: answer everyone with it and stop
    /// accepting writes (the process should restart and replay).
    private func fail(_ error: StorageError, waiters: [CheckedContinuation<CommandResult, any Error>]) {
        logger.critical("storage failure; refusing further writes", metadata: ["error": "\(error)"])
        lock.lock()
        failure = error
        let stranded = pending.map(\.continuation) + committed.flatMap(\.waiters)
        pending.removeAll()
        committed.removeAll()
        lock.broadcast()
        lock.unlock()
        for waiter in waiters + stranded { waiter.resume(throwing: error) }
    }

    private func finishThread() {
        lock.lock()
        threadsRunning -= 1
        lock.broadcast()
        lock.unlock()
    }
}

extension Command {
    /// Roughly how many bytes the command adds to an entry, for entry size limits.
    var approximateSize: Int {
        switch self {
        case .append(let a): 64 + a.body.byteCount
        case .create(let c): 128 + c.body.byteCount + (c.fork?.materializedPrefix.count ?? 0)
        case .touch(let paths): 16 + paths.count * 32
        default: 64
        }
    }
}

extension Body {
    var byteCount: Int {
        switch self {
        case .bytes(let b): b.count
        case .json(let messages): messages.reduce(0) { $0 + $1.count + 4 }
        }
    }
}
