import BinaryCodec
import Raft
import RocksDB
import Synchronization

/// A consistent, point-in-time view of the applied state (a RocksDB snapshot), captured on the
/// apply thread right after it persisted an index and read on another thread by
/// `SnapshotFile.write` (docs/state-transfer.md §1).
///
/// Capturing is cheap; holding the view keeps RocksDB from dropping the versions it sees, so
/// it must not live long. `SnapshotFile.write` always releases it; a view that is not written
/// is released with `release()` or when the last reference goes. The database refuses to
/// close while a view is held.
public final class StateView: Sendable {
    /// The applied index of the state the view sees.
    public let appliedIndex: UInt64
    let db: RocksDB
    let meta: ColumnFamily
    let payloads: ColumnFamily
    private let snapshot: Mutex<RocksSnapshot?>

    init(store: StateStore) throws(StorageError) {
        let snapshot = store.db.snapshot()
        db = store.db
        meta = store.meta
        payloads = store.payloads
        do {
            appliedIndex = try snapshot.get(Keys.appliedIndex, in: store.meta).map { v throws(StorageError) in
                try Keys.uint64(v)
            } ?? 0
        } catch let error as RocksDBError {
            throw StorageError(error)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.io, "reading the applied index: \(error)")
        }
        self.snapshot = Mutex(snapshot)
    }

    /// Lets RocksDB forget the versions the view holds. Idempotent; iterators already made from
    /// the view keep it until they are gone.
    public func release() { _ = snapshot.withLock { $0.take() } }

    /// The RocksDB snapshot, unless released.
    func rocksSnapshot() throws(StorageError) -> RocksSnapshot {
        guard let snapshot = snapshot.withLock({ $0 }) else {
            throw StorageError(.invalidArgument, "the state view was released")
        }
        return snapshot
    }
}

extension StateStore {
    /// Captures the state as it is now (cheap: a RocksDB snapshot). Call it on the apply thread
    /// right after `persist(_:model:appliedIndex:)`, so the view is exactly the state at that
    /// index, then hand it to the thread that writes the file.
    public func captureView() throws(StorageError) -> StateView { try StateView(store: self) }
}

/// A complete snapshot file, renamed into place and durable.
public struct WrittenSnapshot: Sendable, Hashable {
    /// The file's path: `<directory>/<index>-<term>.snap`.
    public var path: String
    /// The file's name in its directory.
    public var name: String
    public var size: UInt64
    public var recordCount: UInt64
    public var checksum: UInt32
    /// The most bytes the writer held in its buffer at once (never more than its buffer size).
    public var peakBufferedBytes: Int
}

extension SnapshotFile {
    /// Writes the state `view` sees as the snapshot `metadata` (whose index must be the
    /// view's applied index) to `directory` (created if missing): first as
    /// `tmp-<index>-<term>`, through a buffer of `bufferSize` bytes, then fsynced, renamed to
    /// `<index>-<term>.snap` and the directory fsynced. Releases `view` in every case.
    ///
    /// Blocks for as long as it takes to write the state; call it on a dedicated thread. The
    /// memory it uses is the buffer, whatever the size of the state.
    public static func write(
        _ view: StateView, metadata: SnapshotMetadata, peers: [NodeID: String], to directory: String,
        bufferSize: Int = defaultBufferSize
    ) throws(StorageError) -> WrittenSnapshot {
        defer { view.release() }
        guard view.appliedIndex == metadata.index else {
            throw StorageError(
                .invalidArgument, "snapshot metadata names index \(metadata.index), the state is at \(view.appliedIndex)")
        }
        let snapshot = try view.rocksSnapshot()
        try FileDescriptor.makeDirectory(directory)
        let name = fileName(index: metadata.index, term: metadata.term)
        let temporary = directory + "/" + SnapshotDirectory.temporaryName(index: metadata.index, term: metadata.term)
        let final = directory + "/" + name
        var writer = BufferedSnapshotWriter(
            file: try FileDescriptor.openForWriting(temporary, truncate: true), bufferSize: bufferSize)
        do throws(StorageError) {
            try writer.append(encodeHeader(SnapshotHeader(metadata: metadata, peers: peers)))
            for (family, cf) in [(Family.meta, view.meta), (.payloads, view.payloads)] {
                let iterator = view.db.makeIterator(cf, snapshot: snapshot)
                iterator.seekToFirst()
                while iterator.isValid {
                    try iterator.withCurrent { key, value throws(StorageError) in
                        try writer.appendRecord(family, key: key, value: value)
                    }
                    iterator.next()
                }
                do { try iterator.checkError() } catch { throw StorageError(error) }
            }
            try writer.flush()
            let trailer = encodeTrailer(recordCount: writer.recordCount, checksum: writer.checksum.value)
            try trailer.withBytes { raw throws(StorageError) in try writer.file.write(raw, at: writer.offset) }
            try writer.file.sync()
            let size = writer.offset + UInt64(trailer.count)
            try FileDescriptor.renameFile(temporary, to: final)
            try FileDescriptor.syncDirectory(directory)
            return WrittenSnapshot(
                path: final, name: name, size: size, recordCount: writer.recordCount,
                checksum: writer.checksum.value, peakBufferedBytes: writer.peak)
        } catch {
            try? FileDescriptor.remove(temporary)
            throw error
        }
    }
}

/// Appends a snapshot file's bytes through a buffer of fixed capacity, checksumming what it
/// writes. A piece larger than the buffer is written straight from where it lies.
struct BufferedSnapshotWriter {
    let file: FileDescriptor
    private var buffer: ByteWriter
    private let capacity: Int
    /// Bytes written to the file so far.
    private(set) var offset: UInt64 = 0
    private(set) var checksum = CRC32C()
    private(set) var recordCount: UInt64 = 0
    private(set) var peak = 0

    init(file: FileDescriptor, bufferSize: Int) {
        self.file = file
        capacity = max(bufferSize, SnapshotFile.minimumBufferSize)
        buffer = ByteWriter(capacity: capacity)
    }

    /// The most bytes a record's tag and two length prefixes take.
    private static let recordFraming = 1 + 10 + 10

    mutating func appendRecord(
        _ family: SnapshotFile.Family, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer
    ) throws(StorageError) {
        try reserve(Self.recordFraming)
        buffer.u8(family.rawValue)
        buffer.varint(UInt64(key.count))
        try append(key)
        try reserve(Self.recordFraming)
        buffer.varint(UInt64(value.count))
        try append(value)
        recordCount += 1
    }

    mutating func append(_ bytes: [UInt8]) throws(StorageError) {
        try bytes.withBytes { raw throws(StorageError) in try append(raw) }
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        if bytes.count > capacity {
            try flush()
            checksum.update(bytes)
            try file.write(bytes, at: offset)
            offset += UInt64(bytes.count)
            return
        }
        try reserve(bytes.count)
        buffer.raw(bytes)
        peak = max(peak, buffer.count)
    }

    /// Flushes first unless `n` more bytes fit.
    private mutating func reserve(_ n: Int) throws(StorageError) {
        if buffer.count + n > capacity { try flush() }
    }

    mutating func flush() throws(StorageError) {
        guard buffer.count > 0 else { return }
        peak = max(peak, buffer.count)
        let at = offset
        let file = file
        var crc = checksum
        try buffer.withUnsafeBytes { raw throws(StorageError) in
            crc.update(raw)
            try file.write(raw, at: at)
        }
        checksum = crc
        offset += UInt64(buffer.count)
        buffer.removeAll()
    }
}
