import Raft
import Synchronization

/// A complete snapshot file opened for sending in chunks (docs/state-transfer.md §2): the
/// leader's driver reads `length` bytes at `offset` for each InstallSnapshot chunk.
///
/// Reads are positioned (`pread`), so concurrent reads at different offsets, for several
/// followers, are safe. The file stays readable while open even if it is deleted meanwhile.
public final class SnapshotFileReader: Sendable {
    public let path: String
    /// The file's size in bytes: the offset after the last chunk.
    public let size: UInt64
    public let header: SnapshotHeader
    private let file: FileDescriptor

    /// Opens the file at `path` and checks its header (not its records: the receiver verifies
    /// the whole file, and `SnapshotFile.verify(path:)` can).
    public init(path: String) throws(StorageError) {
        file = try FileDescriptor.openForReading(path)
        size = try file.size()
        header = try SnapshotFile.readHeader(file, fileSize: size).header
        self.path = path
    }

    /// Up to `length` bytes at `offset`: fewer only at the end of the file, none at or past it.
    public func read(at offset: UInt64, length: Int) throws(StorageError) -> [UInt8] {
        guard offset < size, length > 0 else { return [] }
        let count = Int(min(UInt64(length), size - offset))
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withMutableBytes { raw throws(StorageError) in try read(into: raw, at: offset) }
        guard n == count else { throw StorageError(.io, "snapshot file \(path) shrank while being read") }
        return bytes
    }

    /// Reads into `buffer` (a network buffer's spare room) from `offset`; returns how many
    /// bytes were read, fewer than `buffer.count` only at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(StorageError) -> Int {
        guard offset < size else { return 0 }
        let count = Int(min(UInt64(buffer.count), size - offset))
        return try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]), at: offset)
    }
}

/// A snapshot being received, chunk by chunk, as `incoming-<index>-<term>-<from>` in the
/// snapshot directory (docs/state-transfer.md §2). Chunks must arrive in order: each is
/// appended at the file's current size, so after a restart the transfer resumes from the
/// size of what is on disk. `finish()` checks the whole file and, if it is intact, renames it
/// to the complete snapshot `<index>-<term>.snap` that the install reads.
///
/// Appended bytes are not fsynced until `finish()`: a crash may lose the last chunks (the
/// size then says so) or, on some file systems, leave bytes that never arrived, which the
/// checksum rejects and the transfer starts over.
public final class IncomingSnapshotFile: Sendable {
    public let index: UInt64
    public let term: UInt64
    public let from: NodeID
    /// The file's path.
    public let path: String
    private let directory: String
    private let state: Mutex<State>

    private struct State {
        var file: FileDescriptor?
        var size: UInt64
    }

    /// What became of a chunk.
    public enum AppendResult: Sendable, Hashable {
        /// Appended; the file now has `size` bytes (the next chunk's offset).
        case appended(size: UInt64)
        /// The chunk's offset is not the file's size, which the sender must resume from.
        case wrongOffset(size: UInt64)
    }

    /// What `finish()` found.
    public enum FinishResult: Sendable, Hashable {
        /// The file is complete and intact, and is now the snapshot at `snapshot.path`.
        case valid(VerifiedSnapshot)
        /// The file is damaged, incomplete or not the snapshot expected; it was deleted.
        case invalid(reason: String)
    }

    /// Opens the received file of (`index`, `term`) from `from` in `directory` (both created
    /// if missing), keeping what an earlier run received.
    public init(directory: String, index: UInt64, term: UInt64, from: NodeID) throws(StorageError) {
        self.index = index
        self.term = term
        self.from = from
        self.directory = directory
        path = directory + "/" + SnapshotDirectory.incomingName(index: index, term: term, from: from)
        try FileDescriptor.makeDirectory(directory)
        let file = try FileDescriptor.openForWriting(path, truncate: false)
        state = Mutex(State(file: file, size: try file.size()))
    }

    /// How many bytes have been received: the offset the next chunk must have.
    public var size: UInt64 { state.withLock { $0.size } }

    /// Appends `chunk` if `offset` is the current size.
    public func append(_ chunk: UnsafeRawBufferPointer, at offset: UInt64) throws(StorageError) -> AppendResult {
        try state.withLock { state throws(StorageError) -> AppendResult in
            guard let file = state.file else { throw StorageError(.invalidArgument, "\(path) is finished") }
            guard offset == state.size else { return .wrongOffset(size: state.size) }
            try file.write(chunk, at: offset)
            state.size += UInt64(chunk.count)
            return .appended(size: state.size)
        }
    }

    /// Appends `chunk` if `offset` is the current size.
    public func append(_ chunk: [UInt8], at offset: UInt64) throws(StorageError) -> AppendResult {
        try chunk.withBytes { raw throws(StorageError) in try append(raw, at: offset) }
    }

    /// Fsyncs the file and reads it through (header, records, count, CRC-32C), checking it is
    /// the snapshot of (`index`, `term`). Intact: renames it to `<index>-<term>.snap` (durably)
    /// and returns it. Otherwise deletes it. Throws only if the disk fails.
    public func finish() throws(StorageError) -> FinishResult {
        try state.withLock { state throws(StorageError) -> FinishResult in
            guard let file = state.file else { throw StorageError(.invalidArgument, "\(path) is finished") }
            try file.sync()
            state.file = nil
            let verified: VerifiedSnapshot
            do throws(StorageError) {
                verified = try SnapshotFile.verify(path: path)
                let metadata = verified.header.metadata
                guard metadata.index == index, metadata.term == term else {
                    throw StorageError(
                        .corruption, "holds the snapshot of index \(metadata.index) term \(metadata.term)")
                }
            } catch where error.code == .corruption {
                try FileDescriptor.remove(path)
                try FileDescriptor.syncDirectory(directory)
                return .invalid(reason: error.message)
            }
            let final = directory + "/" + SnapshotFile.fileName(index: index, term: term)
            try FileDescriptor.renameFile(path, to: final)
            try FileDescriptor.syncDirectory(directory)
            var result = verified
            result.path = final
            return .valid(result)
        }
    }

    /// Deletes what was received (a transfer abandoned for a newer snapshot).
    public func discard() throws(StorageError) {
        try state.withLock { state throws(StorageError) in
            state.file = nil
            try FileDescriptor.remove(path)
        }
    }
}
