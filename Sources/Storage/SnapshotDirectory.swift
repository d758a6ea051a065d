import Raft

/// The directory of a node's snapshot files (docs/state-transfer.md §1): complete snapshots
/// `<index>-<term>.snap`, files being written `tmp-<index>-<term>` and files being received
/// `incoming-<index>-<term>-<from>`. Names of any other form are never touched.
public struct SnapshotDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// What a file in the directory is.
    public enum Kind: Sendable, Hashable {
        /// A finished snapshot (written here, or received and verified).
        case complete
        /// A snapshot being written, or left behind by a writer that stopped.
        case temporary
        /// A snapshot being received from `from`.
        case incoming(from: NodeID)
    }

    /// One snapshot file of the directory.
    public struct Entry: Sendable, Hashable {
        public var name: String
        public var kind: Kind
        public var index: UInt64
        public var term: UInt64
        public var size: UInt64
        /// The file's path.
        public var path: String
    }

    static func temporaryName(index: UInt64, term: UInt64) -> String { "tmp-\(index)-\(term)" }

    public static func incomingName(index: UInt64, term: UInt64, from: NodeID) -> String {
        "incoming-\(index)-\(term)-\(from)"
    }

    /// The kind, index and term a file name stands for, or `nil` for a foreign name.
    static func parse(_ name: String) -> (kind: Kind, index: UInt64, term: UInt64)? {
        func numbers(_ text: Substring, count: Int) -> [UInt64]? {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == count else { return nil }
            let values = parts.compactMap { part in
                !part.isEmpty && part.utf8.allSatisfy { (0x30...0x39).contains($0) } ? UInt64(part) : nil
            }
            return values.count == count ? values : nil
        }
        if name.hasSuffix(".snap"), let n = numbers(name.dropLast(5), count: 2) {
            return (.complete, n[0], n[1])
        }
        if name.hasPrefix("tmp-"), let n = numbers(name.dropFirst(4), count: 2) {
            return (.temporary, n[0], n[1])
        }
        if name.hasPrefix("incoming-"), let n = numbers(name.dropFirst(9), count: 3) {
            return (.incoming(from: n[2]), n[0], n[1])
        }
        return nil
    }

    /// Every snapshot file, ordered by index, then term; `[]` if the directory does not exist.
    public func entries() throws(StorageError) -> [Entry] {
        var result: [Entry] = []
        for name in try FileDescriptor.names(in: path) {
            guard let parsed = Self.parse(name) else { continue }
            let file = path + "/" + name
            // Gone since the listing: a concurrent clean-up.
            guard let size = try FileDescriptor.size(of: file) else { continue }
            result.append(Entry(name: name, kind: parsed.kind, index: parsed.index, term: parsed.term, size: size, path: file))
        }
        return result.sorted { ($0.index, $0.term, $0.name) < ($1.index, $1.term, $1.name) }
    }

    /// The complete snapshot of the highest index (then term), or `nil`.
    public func latest() throws(StorageError) -> Entry? {
        try entries().last { $0.kind == .complete }
    }

    /// The size of the partly received file of (`index`, `term`) from `from`, or `nil` if there
    /// is none: where a transfer interrupted by a restart resumes.
    public func incomingSize(index: UInt64, term: UInt64, from: NodeID) throws(StorageError) -> UInt64? {
        try FileDescriptor.size(of: path + "/" + Self.incomingName(index: index, term: term, from: from))
    }

    /// Deletes the files that can no longer be used: complete snapshots older than the latest,
    /// every temporary file, and received files whose index is not above the latest complete
    /// snapshot's. Files named in `keeping` stay (a snapshot a transfer still reads, a file
    /// being written). Returns the names deleted.
    ///
    /// A temporary file is only in use while `SnapshotFile.write` runs: call this on the
    /// thread that writes snapshots, or at startup, or name the file in `keeping`.
    @discardableResult
    public func removeStale(keeping: Set<String> = []) throws(StorageError) -> [String] {
        let all = try entries()
        let latest = all.last { $0.kind == .complete }
        var removed: [String] = []
        for entry in all where !keeping.contains(entry.name) && entry.name != latest?.name {
            let stale: Bool
            switch entry.kind {
            case .complete, .temporary: stale = true
            case .incoming: stale = latest.map { entry.index <= $0.index } ?? false
            }
            if stale {
                try FileDescriptor.remove(entry.path)
                removed.append(entry.name)
            }
        }
        if !removed.isEmpty { try FileDescriptor.syncDirectory(path) }
        return removed
    }
}
