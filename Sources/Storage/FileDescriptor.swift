#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file, closed when the value is deinitialized: the blocking POSIX calls snapshot
/// files need (positioned reads and writes, fsync), with failures as `StorageError(.io)`.
///
/// Every call blocks its thread; callers run them on dedicated threads, never on an event
/// loop (style.md "Concurrency"). `pread`/`pwrite` take no shared file position, so reads at
/// different offsets may run concurrently.
final class FileDescriptor: Sendable {
    let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { _ = close(fd) }

    /// Opens `path` for reading.
    static func openForReading(_ path: String) throws(StorageError) -> FileDescriptor {
        try openFile(path, O_RDONLY | O_CLOEXEC)
    }

    /// Opens `path` for writing, creating it if needed; `truncate` empties an existing file.
    static func openForWriting(_ path: String, truncate: Bool) throws(StorageError) -> FileDescriptor {
        try openFile(path, O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0))
    }

    private static func openFile(_ path: String, _ flags: Int32) throws(StorageError) -> FileDescriptor {
        let fd = retryingInterrupts { open(path, flags, 0o644) }
        guard fd >= 0 else { throw failure("open", path) }
        return FileDescriptor(fd: fd, path: path)
    }

    /// The file's current size in bytes.
    func size() throws(StorageError) -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Self.failure("fstat", path) }
        return UInt64(info.st_size)
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(StorageError) {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        var at = off_t(offset)
        while left > 0 {
            let n = Self.retryingInterrupts { pwrite(fd, p, left, at) }
            guard n > 0 else { throw Self.failure("write", path) }
            p += n
            left -= n
            at += off_t(n)
        }
    }

    /// Reads up to `buffer.count` bytes at `offset`, fewer only at the end of the file;
    /// returns how many were read.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(StorageError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = Self.retryingInterrupts { pread(fd, base + done, buffer.count - done, off_t(offset) + off_t(done)) }
            guard n >= 0 else { throw Self.failure("read", path) }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Cuts the file to `size` bytes.
    func truncate(to size: UInt64) throws(StorageError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw Self.failure("truncate", path) }
    }

    /// Makes the file's data and size durable.
    func sync() throws(StorageError) {
        guard Self.retryingInterrupts({ fsync(fd) }) == 0 else { throw Self.failure("fsync", path) }
    }

    // MARK: Directories

    /// Creates `path` (one level) unless it exists.
    static func makeDirectory(_ path: String) throws(StorageError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw failure("mkdir", path) }
    }

    /// Makes renames, creations and deletions in directory `path` durable.
    static func syncDirectory(_ path: String) throws(StorageError) {
        let fd = retryingInterrupts { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { throw failure("open directory", path) }
        defer { _ = close(fd) }
        guard retryingInterrupts({ fsync(fd) }) == 0 else { throw failure("fsync directory", path) }
    }

    /// Renames `from` to `to` atomically, replacing `to`.
    static func renameFile(_ from: String, to: String) throws(StorageError) {
        guard rename(from, to) == 0 else { throw failure("rename to \(to)", from) }
    }

    /// Removes the file `path`; a missing file is not an error.
    static func remove(_ path: String) throws(StorageError) {
        if unlink(path) != 0 && errno != ENOENT { throw failure("unlink", path) }
    }

    /// The size of the file at `path`, or `nil` if there is none.
    static func size(of path: String) throws(StorageError) -> UInt64? {
        var info = stat()
        if stat(path, &info) != 0 {
            if errno == ENOENT { return nil }
            throw failure("stat", path)
        }
        return UInt64(info.st_size)
    }

    /// The names in directory `path` (without `.` and `..`); `[]` if it does not exist.
    static func names(in path: String) throws(StorageError) -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw failure("opendir", path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private static func retryingInterrupts<T: BinaryInteger>(_ call: () -> T) -> T {
        while true {
            let result = call()
            if result < 0 && errno == EINTR { continue }
            return result
        }
    }

    private static func failure(_ operation: String, _ path: String) -> StorageError {
        let code = errno
        return StorageError(.io, "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))")
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` that keeps the body's error type (the standard library's rethrows
    /// `any Error`).
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>?
        withUnsafeBytes { raw in result = Result { () throws(E) in try body(raw) } }
        return try result!.get()
    }

    /// `withUnsafeMutableBytes` that keeps the body's error type.
    mutating func withMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>?
        withUnsafeMutableBytes { raw in result = Result { () throws(E) in try body(raw) } }
        return try result!.get()
    }
}
