import Benchmark
import NIOCore
import Raft
import RocksDB
import Server
import Replication
import Storage
import StreamModel

/// The state machine with one binary stream, applying append batches to it: the apply
/// thread's work per entry (`ApplyLoop`), without the RocksDB write of the effects.
final class ApplyFixture: @unchecked Sendable {
    private var model = StreamModel()
    private let commands = Workload.appends(contentType: Workload.binaryType)

    init() {
        var effects = ApplyEffects()
        guard case .created = model.apply(Workload.create(contentType: Workload.binaryType), now: Workload.time, effects: &effects) else {
            fatalError("creating the benchmark stream failed")
        }
    }

    func applyBatch() {
        var effects = ApplyEffects()
        for command in commands {
            guard case .appended = model.apply(command, now: Workload.time, effects: &effects) else {
                fatalError("append rejected")
            }
        }
        blackHole(effects)
    }
}

/// A RocksDB database in a temporary directory with one column family, taking unsynced
/// batches of ``Workload/commandCount`` puts of ``Workload/bodyBytes`` (the apply path's
/// payload writes). Keys cycle through a fixed range so the database stays small however
/// long the run.
final class RocksDBFixture: @unchecked Sendable {
    static let keyRange: UInt64 = 1 << 16
    private var directory: TemporaryDirectory?
    private var db: RocksDB?
    private var family: ColumnFamily?
    private var next: UInt64 = 0
    private let values = (0..<Workload.commandCount).map { Workload.body($0) }

    func open() throws {
        let directory = TemporaryDirectory("rocksdb")
        let db = try RocksDB(path: directory.path, columnFamilies: ["payloads"])
        family = try db.columnFamily(named: "payloads")
        self.db = db
        self.directory = directory
    }

    func writeBatch() {
        let batch = WriteBatch()
        for value in values {
            batch.put(Workload.bigEndian(next), value, in: family!)
            next = (next + 1) % Self.keyRange
        }
        try! db!.write(batch, sync: false)
    }

    func close() throws {
        try db?.close()
        db = nil
        directory?.remove()
    }
}

/// A node's log in a temporary directory, taking `LogStore.save` of one Raft entry carrying an
/// encoded batch of ``Workload/commandCount`` appends, unsynced: the Raft thread's log write
/// without its fsync. Every ``retainedEntries`` saves compacts the log behind it, as the driver
/// does, so the log stays small however long the run.
final class LogStoreFixture: @unchecked Sendable {
    static let retainedEntries: UInt64 = 1024
    /// Far above anything the store's own single-node group writes.
    static let firstIndex: UInt64 = 1 << 32
    private var directory: TemporaryDirectory?
    private var store: Node?
    private var next = firstIndex
    private let data = Workload.batch.encoded()

    func open() async throws {
        let directory = TemporaryDirectory("logstore")
        let store = try Node(configuration: NodeConfiguration(dataDirectory: directory.path),
                                    logger: Workload.quietLogger)
        // Once a command has committed the one-voter group has its leader and its no-op
        // behind it, and an idle leader writes no more entries that could cut into ours.
        _ = try await store.propose(Workload.create(contentType: Workload.binaryType))
        self.store = store
        self.directory = directory
    }

    func saveEntry() {
        let entry = Entry(term: 1, index: next, kind: .normal, data: data)
        let compact = next % Self.retainedEntries == 0 ? next - Self.retainedEntries : nil
        try! store!.log.save(entries: [entry], compactThrough: compact, sync: false)
        next += 1
    }

    func close() {
        store?.shutdown()
        store = nil
        directory?.remove()
    }
}

/// A chunk read back from a text stream holding one batch of appends, ready to frame as an
/// SSE `data` event the way the live-read handler does.
final class SSEFixture: @unchecked Sendable {
    private(set) var chunk: ReadChunk?

    func load() async throws {
        let directory = TemporaryDirectory("sse")
        defer { directory.remove() }
        let store = try Node(configuration: NodeConfiguration(dataDirectory: directory.path),
                                    logger: Workload.quietLogger)
        defer { store.shutdown() }
        _ = try await store.propose(Workload.create(contentType: Workload.textType))
        for command in Workload.appends(contentType: Workload.textType) {
            _ = try await store.propose(command)
        }
        let meta = store.stream(at: Workload.path, now: Workload.time)!
        let chunk = try store.read(meta, from: .zero, maxBytes: 1 << 20)
        precondition(chunk.bytes.readableBytes == Workload.commandCount * Workload.bodyBytes, "short read: \(chunk.bytes.readableBytes) bytes")
        self.chunk = chunk
    }

    func frame(_ encoding: SSEEncoding) {
        var out = ByteBuffer()
        SSE.writeData(chunk!, json: false, encoding: encoding, to: &out)
        blackHole(out)
    }
}
