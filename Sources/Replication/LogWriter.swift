import Foundation
import Raft
import Storage

/// Writes the Raft log on a thread of its own, so the Raft thread keeps ticking, heartbeating
/// and answering while an fsync runs (etcd's asynchronous storage writes; docs/raft.md
/// "Persisting off the Raft thread"). Writes complete in the order they were submitted: the
/// persistence contract (`Ready`) asks exactly that. Those waiting in the queue when the
/// thread comes back from a write are written together, one synced RocksDB write for all of
/// them where their entries follow each other (group commit).
///
/// After each write the thread sends the messages that waited for it and hands the written
/// positions back to the Raft thread (`onWritten`), which reports them to the core.
final class LogWriter: @unchecked Sendable {
    /// One `Ready`'s share of durable work.
    struct Write {
        var entries: [Entry]
        var hardState: HardState?
        /// Entries, term or vote: a synced write. A change of the commit index alone is not
        /// synced (RaftDriver.persist says why).
        var sync: Bool
        /// Messages that may leave only once this write is durable.
        var messages: [Message]
        /// What to report to the core once durable.
        var mark: LogPosition?
    }

    /// What one turn of the writer made durable, in order.
    struct Written {
        var marks: [LogPosition]
        /// How many submitted writes this covers.
        var writes: Int
    }

    private let log: LogStore
    private let send: @Sendable ([Message]) -> Void
    private let onWritten: @Sendable (Written) -> Void
    private let onFailure: @Sendable (StorageError) -> Void
    private let onSynced: @Sendable (_ entries: Int, _ nanoseconds: UInt64) -> Void
    private let clock: MonotonicClock
    /// Test hook: runs before each write on the writer's thread (a slow disk).
    private let beforeWrite: (@Sendable (_ entries: Int) -> Void)?

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [Write] = []
    private var writing = false
    private var stopping = false
    private var failed = false
    private var running = false

    init(log: LogStore, clock: MonotonicClock, beforeWrite: (@Sendable (Int) -> Void)?,
         send: @escaping @Sendable ([Message]) -> Void, onWritten: @escaping @Sendable (Written) -> Void,
         onSynced: @escaping @Sendable (Int, UInt64) -> Void, onFailure: @escaping @Sendable (StorageError) -> Void) {
        self.log = log
        self.clock = clock
        self.beforeWrite = beforeWrite
        self.send = send
        self.onWritten = onWritten
        self.onSynced = onSynced
        self.onFailure = onFailure
    }

    func start() {
        condition.lock()
        running = true
        condition.unlock()
        let thread = Thread { [self] in run() }
        thread.name = "runnel-raft-log"
        thread.start()
    }

    func submit(_ write: Write) {
        condition.lock()
        queue.append(write)
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until every submitted write is durable (or the writer failed): before a write
    /// the Raft thread makes itself (a snapshot install).
    func drain() {
        condition.lock()
        while (!queue.isEmpty || writing) && !failed && running { condition.wait() }
        condition.unlock()
    }

    /// Writes what is queued, then ends the thread and waits for it.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty || failed {
                running = false
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = queue
            queue = []
            writing = true
            condition.unlock()

            do {
                try perform(batch)
            } catch {
                condition.lock()
                failed = true
                writing = false
                condition.broadcast()
                condition.unlock()
                onFailure(error)
                continue
            }
            send(batch.flatMap(\.messages))
            onWritten(Written(marks: batch.compactMap(\.mark), writes: batch.count))
            condition.lock()
            writing = false
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Writes `batch` in order: writes whose entries continue the previous ones share one
    /// RocksDB write; one that replaces a suffix (a new leader's entries) starts another.
    func perform(_ batch: [Write]) throws(StorageError) {
        var pending: Write?
        for write in batch {
            guard var current = pending else {
                pending = write
                continue
            }
            let continues = current.entries.isEmpty || write.entries.isEmpty
                || write.entries[0].index == current.entries[current.entries.count - 1].index + 1
            if continues {
                current.entries += write.entries
                current.hardState = write.hardState ?? current.hardState
                current.sync = current.sync || write.sync
                pending = current
            } else {
                try save(current)
                pending = write
            }
        }
        if let pending { try save(pending) }
    }

    private func save(_ write: Write) throws(StorageError) {
        beforeWrite?(write.entries.count)
        let started = clock.nanoseconds()
        try log.save(entries: write.entries, hardState: write.hardState, sync: write.sync)
        if write.sync { onSynced(write.entries.count, clock.nanoseconds() - started) }
    }
}
