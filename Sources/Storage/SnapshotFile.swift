import BinaryCodec
import Raft

/// The snapshot file: a node's applied state at one log index as one record stream, written
/// once, checksummed once and sent in chunks by byte offset (docs/state-transfer.md §1).
///
/// ```
/// header:  magic "RNLSNAP1", version u8, header body length u32, body:
///          index u64, term u64, membership (as in raft_state), peer addresses (as in raft_state)
/// records: family u8 (1 = meta, 2 = payloads), key (varint length + bytes),
///          value (varint length + bytes); meta first, each family in key order
/// trailer: record count u64, CRC-32C u32 of every byte before the trailer, "RNLSNEND"
/// ```
///
/// Only `meta` and `payloads` travel: `raft_log` and `raft_state` are the node's own. The
/// format depends on no RocksDB file layout, so any version that reads this version can
/// install it. Files live in one directory: `<index>-<term>.snap` when complete,
/// `tmp-<index>-<term>` while being written and `incoming-<index>-<term>-<from>` while being
/// received (`SnapshotDirectory`).
public enum SnapshotFile {
    /// The first bytes of every snapshot file.
    public static let magic: [UInt8] = Array("RNLSNAP1".utf8)
    /// The last bytes of every complete snapshot file.
    public static let trailerMagic: [UInt8] = Array("RNLSNEND".utf8)
    /// The format version this build writes and reads.
    public static let version: UInt8 = 1
    /// Magic, version and the header body's length.
    static let headerPrefixSize = 8 + 1 + 4
    /// Record count, checksum and trailer magic.
    public static let trailerSize = 8 + 4 + 8
    /// The largest header body a reader accepts: a membership and an address book are far
    /// smaller, so anything bigger is damage, not a header to allocate for.
    static let maxHeaderBodySize = 16 << 20
    /// The write buffer of `write(_:metadata:peers:to:bufferSize:)` and the read buffer and
    /// write-batch size of an install, unless the caller gives another.
    public static let defaultBufferSize = 4 << 20
    /// The smallest buffer the writer uses, whatever it is asked for.
    static let minimumBufferSize = 64 << 10

    /// The column family a record belongs to.
    enum Family: UInt8 {
        case meta = 1
        case payloads = 2
    }

    /// The file name of the complete snapshot of `index` at `term`.
    public static func fileName(index: UInt64, term: UInt64) -> String { "\(index)-\(term).snap" }

    /// The header's bytes: magic, version, body length, body.
    static func encodeHeader(_ header: SnapshotHeader) -> [UInt8] {
        var body = ByteWriter(capacity: 256)
        body.u64(header.metadata.index)
        body.u64(header.metadata.term)
        header.metadata.membership.encode(into: &body)
        PeerAddressBook.encode(header.peers, into: &body)
        var w = ByteWriter(capacity: headerPrefixSize + body.count)
        w.raw(magic)
        w.u8(version)
        w.u32(UInt32(body.count))
        w.raw(body.bytes)
        return w.bytes
    }

    /// Checks the fixed prefix of a header and returns the length of the body after it.
    static func decodeHeaderPrefix(_ bytes: [UInt8], fileSize: UInt64) throws(StorageError) -> Int {
        var r = ByteReader(bytes)
        do {
            for expected in magic {
                guard try r.u8() == expected else {
                    throw StorageError(.corruption, "snapshot file: not a snapshot (bad magic)")
                }
            }
            let version = try r.u8()
            guard version == Self.version else {
                throw StorageError(.corruption, "snapshot file: unknown version \(version)")
            }
            let length = Int(try r.u32())
            let room = fileSize - UInt64(min(fileSize, UInt64(headerPrefixSize + trailerSize)))
            guard length <= maxHeaderBodySize, UInt64(length) <= room else {
                throw StorageError(.corruption, "snapshot file: header length \(length) in a file of \(fileSize) bytes")
            }
            return length
        } catch let error as BinaryDecodingError {
            throw StorageError(error, "snapshot header")
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.corruption, "snapshot header: \(error)")
        }
    }

    static func decodeHeaderBody(_ bytes: [UInt8], size: Int) throws(StorageError) -> SnapshotHeader {
        var r = ByteReader(bytes)
        do {
            let index = try r.u64()
            let term = try r.u64()
            let membership = try Membership(from: &r)
            let peers = try PeerAddressBook.decode(from: &r)
            try r.expectEnd()
            return SnapshotHeader(
                metadata: SnapshotMetadata(index: index, term: term, membership: membership), peers: peers, size: size)
        } catch {
            throw StorageError(error, "snapshot header")
        }
    }

    /// Reads and checks the header of the file open as `file` (of `fileSize` bytes).
    static func readHeader(_ file: FileDescriptor, fileSize: UInt64) throws(StorageError) -> (header: SnapshotHeader, bytes: [UInt8]) {
        guard fileSize >= UInt64(headerPrefixSize + trailerSize) else {
            throw StorageError(.corruption, "snapshot file \(file.path): only \(fileSize) bytes")
        }
        var prefix = [UInt8](repeating: 0, count: headerPrefixSize)
        _ = try prefix.withMutableBytes { buffer throws(StorageError) in try file.read(into: buffer, at: 0) }
        let length = try decodeHeaderPrefix(prefix, fileSize: fileSize)
        var body = [UInt8](repeating: 0, count: length)
        let n = try body.withMutableBytes { buffer throws(StorageError) in
            try file.read(into: buffer, at: UInt64(headerPrefixSize))
        }
        guard n == length else { throw StorageError(.corruption, "snapshot file \(file.path): header cut short") }
        let header = try decodeHeaderBody(body, size: headerPrefixSize + length)
        return (header, prefix + body)
    }

    /// The trailer's bytes.
    static func encodeTrailer(recordCount: UInt64, checksum: UInt32) -> [UInt8] {
        var w = ByteWriter(capacity: trailerSize)
        w.u64(recordCount)
        w.u32(checksum)
        w.raw(trailerMagic)
        return w.bytes
    }

    /// The record count and checksum of a trailer.
    static func decodeTrailer(_ bytes: [UInt8]) throws(StorageError) -> (recordCount: UInt64, checksum: UInt32) {
        var r = ByteReader(bytes)
        do {
            let count = try r.u64()
            let checksum = try r.u32()
            for expected in trailerMagic {
                guard try r.u8() == expected else {
                    throw StorageError(.corruption, "snapshot file: incomplete (no trailer)")
                }
            }
            try r.expectEnd()
            return (count, checksum)
        } catch let error as BinaryDecodingError {
            throw StorageError(error, "snapshot trailer")
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.corruption, "snapshot trailer: \(error)")
        }
    }
}

/// What a snapshot file says about itself before its records: the Raft snapshot it is (index,
/// term, membership at the index) and the addresses of the members, so a node that installs
/// it can reach them.
public struct SnapshotHeader: Sendable, Hashable {
    public var metadata: SnapshotMetadata
    public var peers: [NodeID: String]
    /// The header's size in bytes: the records start here.
    public var size: Int

    public init(metadata: SnapshotMetadata, peers: [NodeID: String], size: Int = 0) {
        self.metadata = metadata
        self.peers = peers
        self.size = size
    }
}

/// The peer address book as `raft_state`'s `peer_addresses` row stores it: a varint count,
/// then per member (in id order) its id u64 and its address as a varint string.
enum PeerAddressBook {
    static func encode(_ peers: [NodeID: String], into w: inout ByteWriter) {
        w.varint(UInt64(peers.count))
        for (id, address) in peers.sorted(by: { $0.key < $1.key }) {
            w.u64(id)
            w.varintString(address)
        }
    }

    static func encoded(_ peers: [NodeID: String]) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        encode(peers, into: &w)
        return w.bytes
    }

    static func decode(from r: inout ByteReader) throws(BinaryDecodingError) -> [NodeID: String] {
        var result: [NodeID: String] = [:]
        for _ in 0..<(try r.varintCount(minElementSize: 9)) { result[try r.u64()] = try r.varintString() }
        return result
    }
}
