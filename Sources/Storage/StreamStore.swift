import Foundation
import Logging
import RocksDB
import StreamModel
import Synchronization

/// Configuration of a node's storage. Only the executable reads flags; this is what it fills.
public struct StorageConfiguration: Sendable {
    /// The node's data directory; the RocksDB database lives in `<dataDirectory>/db`.
    public var dataDirectory: String
    /// At most this many commands are coalesced into one log entry.
    public var maxCommandsPerEntry: Int = 4096
    /// At most about this many body bytes are coalesced into one log entry.
    public var maxBytesPerEntry: Int = 8 << 20
    /// Longest the log thread waits for proposals that are on their way back to fill an
    /// entry as large as the previous one (also capped by the last fsync's duration). Zero
    /// disables lingering.
    public var maxLinger: Duration = .microseconds(500)
    /// Proposals waiting beyond this many are refused with `busy` (the HTTP layer's 503).
    public var maxPendingProposals: Int = 65_536
    /// Applied entries kept in the log before compaction (a cushion for inspection and, in a
    /// cluster, for followers that fall slightly behind).
    public var retainedLogEntries: UInt64 = 1024
    /// Called on the log thread after every synced log write with the number of commands the
    /// entry carried and how long the write took (metrics hang off it).
    public var onEntrySynced: (@Sendable (_ commands: Int, _ nanoseconds: UInt64) -> Void)?
    /// The time source, in milliseconds since the Unix epoch. Injected for tests.
    public var clock: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }
}

/// Counters of the commit path, for metrics and the benchmark.
public struct CommitStatistics: Sendable {
    /// Log entries written (each one synced write).
    public var entries: UInt64 = 0
    /// Commands carried by those entries.
    public var commands: UInt64 = 0
    /// Synced log writes and their total duration.
    public var syncs: UInt64 = 0
    public var syncNanoseconds: UInt64 = 0
}

/// A node's storage: the durable command log, the applied state, and the published view
/// that reads use. Writes go propose → persist (fsync, shared by every command in the
/// entry) → commit → apply → answer. With one voter, an entry commits as soon as it is
/// persisted; the Raft driver replaces only the commit decision (see docs/architecture.md).
public final class StreamStore: Sendable {
    public let configuration: StorageConfiguration
    let db: RocksDB
    public let log: LogStore
    public let state: StateStore
    let view: Mutex<PublishedView>
    private let pipeline: CommitPipeline
    let logger: Logger

    /// Opens (creating if needed) the store in `configuration.dataDirectory`, replays the log
    /// from the applied index, and starts the commit threads.
    public init(configuration: StorageConfiguration, logger: Logger) throws(StorageError) {
        self.configuration = configuration
        self.logger = logger
        let dbPath = (configuration.dataDirectory as NSString).appendingPathComponent("db")
        do {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw StorageError(.io, "cannot create data directory \(configuration.dataDirectory): \(error)")
        }
        do {
            db = try RocksDB(path: dbPath, columnFamilies: CF.all)
            log = try LogStore(db: db)
            state = try StateStore(db: db)
        } catch {
            throw StorageError(error)
        }
        var (model, applied) = try state.load()
        let last = try log.lastIndex()
        var lastTime: Int64 = 0
        if last > applied {
            logger.info("replaying log", metadata: ["log.from": "\(applied + 1)", "log.to": "\(last)"])
            var index = applied + 1
            while index <= last {
                let entries = try log.entries(from: index, through: last, maxBytes: 64 << 20)
                guard let final = entries.last else {
                    throw StorageError(.corruption, "log entry \(index) missing during replay (last is \(last))")
                }
                var effects = ApplyEffects()
                for entry in entries where entry.kind == .commands {
                    let batch: CommandBatch
                    do { batch = try CommandBatch.decode(entry.data) } catch {
                        throw StorageError(error, "log entry \(entry.index)")
                    }
                    lastTime = max(lastTime, batch.time)
                    for command in batch.commands { _ = model.apply(command, now: batch.time, effects: &effects) }
                }
                try state.persist(effects, model: model, appliedIndex: final.index)
                index = final.index + 1
            }
            applied = last
        }
        view = Mutex(PublishedView(model: model, appliedIndex: applied))
        pipeline = CommitPipeline(
            configuration: configuration, log: log, state: state, model: model,
            lastIndex: max(last, applied), lastTime: lastTime, logger: logger)
        pipeline.onApplied = { [weak self] changes in
            self?.view.withLock { $0.publish(changes) }
        }
        pipeline.start()
    }

    /// Proposes `command` and returns its result once it is durable and applied.
    public func propose(_ command: Command) async throws(StorageError) -> CommandResult {
        try await pipeline.propose(command)
    }

    /// Stops accepting proposals, finishes what is queued, and closes the database.
    public func shutdown() {
        pipeline.stop()
        do { try db.close() } catch {
            logger.warning("closing RocksDB: \(error)")
        }
    }

    /// The current stream at `path` as a read at `now` sees it (`nil` if absent or expired).
    public func stream(at path: StreamPath, now: Int64) -> StreamMeta? {
        view.withLock { $0.model.stream(at: path, now: now) }
    }

    public func stream(id: UInt64) -> StreamMeta? {
        view.withLock { $0.model.stream(id: id) }
    }

    public func bucket(_ name: String) -> BucketMeta? {
        view.withLock { $0.model.buckets[name] }
    }

    /// Streams in the applied state (soft-deleted ones included).
    public var streamCount: Int { view.withLock { $0.model.streams.count } }

    /// The index of the last applied log entry.
    public var appliedIndex: UInt64 { view.withLock { $0.appliedIndex } }

    /// Commit path counters.
    public var statistics: CommitStatistics { pipeline.statistics }

    /// Reads `meta` from `from`, at most about `maxBytes`.
    public func read(_ meta: StreamMeta, from: Offset, maxBytes: Int) throws(StorageError) -> ReadChunk {
        // Fork sources are immutable below the fork offset, so resolving them one by one
        // (rather than from one consistent snapshot) is safe.
        try state.read(meta, from: from, maxBytes: maxBytes) { id in view.withLock { $0.model.stream(id: id) } }
    }

    /// Registers a callback run after every applied batch with the ids of streams that
    /// changed (new data, closure, deletion); live readers hang off it.
    public func onChange(_ callback: @escaping @Sendable (Set<UInt64>) -> Void) {
        pipeline.addListener(callback)
    }
}

/// The state reads see: updated only after the apply batch that produced it is written, so
/// a reader never sees a tail whose units are not yet readable.
struct PublishedView: Sendable {
    var model: StreamModel
    var appliedIndex: UInt64

    mutating func publish(_ changes: AppliedChanges) {
        for (path, meta) in changes.streams { model.install(meta, at: path) }
        for (name, bucket) in changes.buckets { model.install(bucket, named: name) }
        appliedIndex = changes.appliedIndex
    }
}

/// What one apply round hands to readers: the rows it changed.
struct AppliedChanges: Sendable {
    var streams: [(StreamPath, StreamMeta?)]
    var buckets: [(String, BucketMeta?)]
    var appliedIndex: UInt64
    var woken: Set<UInt64>
}

extension StreamStore {
    /// The stored data unit of `meta`'s stream that starts exactly at `offset`, following the
    /// fork chain below the fork offset; `nil` if no unit starts there.
    public func unit(of meta: StreamMeta, at offset: Offset) throws(StorageError) -> [UInt8]? {
        var current = meta
        while offset < current.base, let origin = current.fork {
            guard let source = stream(id: origin.sourceID) else { return nil }
            current = source
        }
        return try state.unit(of: current.id, at: offset.position)
    }
}
