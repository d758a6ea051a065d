import BinaryCodec
import Raft
import RocksDB

/// A snapshot install that began and has not finished: which file to install again after a
/// crash (docs/state-transfer.md §3).
public struct InstallMarker: Sendable, Hashable {
    public var index: UInt64
    public var term: UInt64
    /// The snapshot file's name in the snapshot directory.
    public var fileName: String

    public init(index: UInt64, term: UInt64, fileName: String) {
        self.index = index
        self.term = term
        self.fileName = fileName
    }

    static let version: UInt8 = 1

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 32 + fileName.utf8.count)
        w.u8(Self.version)
        w.u64(index)
        w.u64(term)
        w.varintString(fileName)
        return w.bytes
    }

    init(decoding bytes: [UInt8]) throws(StorageError) {
        var r = ByteReader(bytes)
        do {
            let version = try r.u8()
            guard version == Self.version else {
                throw StorageError(.corruption, "install marker: unknown version \(version)")
            }
            self.init(index: try r.u64(), term: try r.u64(), fileName: try r.varintString())
            try r.expectEnd()
        } catch let error as BinaryDecodingError {
            throw StorageError(error, "install marker")
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.corruption, "install marker: \(error)")
        }
    }
}

/// The redo marker of a snapshot install (docs/state-transfer.md §3): `beginInstall` makes
/// the snapshot the node's Raft state in one synced write, `StateStore.install(from:)` then
/// replaces the applied state (and may be redone any number of times), and `finishInstall`
/// clears the marker. A node that finds the marker on start installs the file again before
/// anything else, serves no reads and does not vote until it has.
extension LogStore {
    /// One synced write: the marker naming `fileName`, `metadata` as the latest snapshot (as
    /// `save(entries:snapshot:…)` stores it), `peers` as the address book if given, and the
    /// deletion of every stored log entry (the snapshot replaces the whole log, even entries
    /// past its index: they may conflict with it, and the leader sends what follows).
    ///
    /// The in-memory bound on the last stored index stays as it was: still an upper bound, so
    /// the next append at or below it deletes a suffix that is already gone, harmlessly.
    public func beginInstall(_ metadata: SnapshotMetadata, fileName: String, peers: [NodeID: String]? = nil) throws(StorageError) {
        let batch = WriteBatch()
        do {
            let log = try db.columnFamily(named: CF.raftLog)
            let state = try db.columnFamily(named: CF.raftState)
            batch.put(Keys.installMarker, InstallMarker(index: metadata.index, term: metadata.term, fileName: fileName).encoded(), in: state)
            batch.put(Keys.snapshot, metadata.encoded(), in: state)
            if let peers { batch.put(Keys.peerAddresses, PeerAddressBook.encoded(peers), in: state) }
            batch.deleteRange(from: Keys.logIndex(0), to: Keys.logIndex(.max), in: log)
            try db.write(batch, sync: true)
        } catch {
            throw StorageError(error)
        }
    }

    /// The marker of an install that has begun and not finished, or `nil`.
    public func installMarker() throws(StorageError) -> InstallMarker? {
        let raw: [UInt8]?
        do { raw = try db.get(Keys.installMarker, in: try db.columnFamily(named: CF.raftState)) } catch {
            throw StorageError(error)
        }
        return try raw.map { bytes throws(StorageError) in try InstallMarker(decoding: bytes) }
    }

    /// Clears the marker (synced), once `StateStore.install(from:)` has returned.
    public func finishInstall() throws(StorageError) {
        do {
            try db.delete(Keys.installMarker, in: try db.columnFamily(named: CF.raftState), sync: true)
        } catch {
            throw StorageError(error)
        }
    }
}
