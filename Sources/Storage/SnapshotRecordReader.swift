import BinaryCodec
import Raft

/// What a full pass over a snapshot file found: it is complete and intact.
public struct VerifiedSnapshot: Sendable, Hashable {
    /// The file's path.
    public var path: String
    public var header: SnapshotHeader
    /// The file's size in bytes.
    public var size: UInt64
    public var recordCount: UInt64
    /// The CRC-32C stored in (and checked against) the trailer.
    public var checksum: UInt32
}

/// Reads a snapshot file's records in order through a buffer of bounded size (never the
/// whole file), checking as it goes everything the install relies on: the header, that
/// records are well formed, in family and key order, that the `meta` applied-index row names
/// the header's index, and at the end the trailer's record count and CRC-32C.
///
/// The buffer holds up to about twice `bufferSize` (a partial record plus one read), or one
/// record if a record is larger (a stored unit is one record).
struct SnapshotRecordReader {
    let file: FileDescriptor
    let fileSize: UInt64
    let header: SnapshotHeader
    /// Where the records end and the trailer starts.
    private let recordsEnd: UInt64
    private let chunkSize: Int
    private var checksum = CRC32C()

    init(path: String, bufferSize: Int = SnapshotFile.defaultBufferSize) throws(StorageError) {
        file = try FileDescriptor.openForReading(path)
        fileSize = try file.size()
        let (header, headerBytes) = try SnapshotFile.readHeader(file, fileSize: fileSize)
        self.header = header
        recordsEnd = fileSize - UInt64(SnapshotFile.trailerSize)
        guard UInt64(header.size) <= recordsEnd else {
            throw StorageError(.corruption, "snapshot file \(path): header runs into the trailer")
        }
        chunkSize = max(bufferSize, SnapshotFile.minimumBufferSize)
        checksum.update(headerBytes)
    }

    /// Calls `body` with every record: its family, key and value (valid only during the
    /// call), then checks the trailer. Throws `.corruption` on the first problem; records
    /// handed to `body` before it were well formed but the file as a whole is not trusted.
    mutating func forEachRecord(
        _ body: (SnapshotFile.Family, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws(StorageError) -> Void
    ) throws(StorageError) -> VerifiedSnapshot {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunkSize)
        var scratch = [UInt8](repeating: 0, count: chunkSize)
        var position = 0  // next unparsed byte of `buffer`
        var fileOffset = UInt64(header.size)  // next byte of the file to read into `buffer`
        var count: UInt64 = 0
        var previous: (family: UInt8, key: [UInt8])? = nil
        var sawAppliedIndex = false

        while true {
            // Parse every complete record in the buffer.
            var needed = 0  // bytes from `position` the next record needs, once known
            do {
                var r = ByteReader(buffer, at: position)
                while !r.isAtEnd {
                    let start = r.offset
                    let tag = try r.u8()
                    let keyLength = try r.varint()
                    let keyStart = r.offset
                    needed = Self.clamp(UInt64(keyStart - start) + keyLength + 1)
                    try r.skip(keyLength)
                    let valueLength = try r.varint()
                    let valueStart = r.offset
                    needed = Self.clamp(UInt64(valueStart - start) + valueLength)
                    try r.skip(valueLength)
                    needed = 0
                    guard let family = SnapshotFile.Family(rawValue: tag) else {
                        throw StorageError(.corruption, "snapshot record \(count): unknown family \(tag)")
                    }
                    let key = Array(buffer[keyStart..<(keyStart + Int(keyLength))])
                    if let previous {
                        let ordered = tag > previous.family
                            || (tag == previous.family && previous.key.lexicographicallyPrecedes(key))
                        guard ordered else {
                            throw StorageError(.corruption, "snapshot record \(count): out of order")
                        }
                    }
                    previous = (tag, key)
                    let valueRange = valueStart..<(valueStart + Int(valueLength))
                    if family == .meta && key == Keys.appliedIndex {
                        let applied = try Keys.uint64(buffer[valueRange])
                        guard applied == header.metadata.index, valueLength == 8 else {
                            throw StorageError(
                                .corruption,
                                "snapshot of index \(header.metadata.index) holds the state of index \(applied)")
                        }
                        sawAppliedIndex = true
                    }
                    try buffer.withBytes { raw throws(StorageError) in
                        try body(family, UnsafeRawBufferPointer(rebasing: raw[keyStart..<(keyStart + key.count)]),
                                 UnsafeRawBufferPointer(rebasing: raw[valueRange]))
                    }
                    count += 1
                    position = r.offset
                }
            } catch let error as BinaryDecodingError {
                guard error.code == .truncated else { throw StorageError(error, "snapshot record \(count)") }
            } catch let error as StorageError {
                throw error
            } catch {
                throw StorageError(.corruption, "snapshot record \(count): \(error)")
            }

            // Refill: keep the partial record, read at least what it needs.
            let partial = buffer.count - position
            if fileOffset == recordsEnd {
                guard partial == 0 else {
                    throw StorageError(.corruption, "snapshot file \(file.path): last record cut short")
                }
                break
            }
            let left = recordsEnd - fileOffset
            guard UInt64(needed) <= UInt64(partial) + left else {
                throw StorageError(.corruption, "snapshot record \(count) runs past the end of the records")
            }
            let want = max(chunkSize, needed - partial)
            buffer.removeSubrange(0..<position)
            position = 0
            if scratch.count < want { scratch = [UInt8](repeating: 0, count: want) }
            let toRead = Int(min(UInt64(want), left))
            let n = try scratch.withMutableBytes { raw throws(StorageError) in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<toRead]), at: fileOffset)
            }
            guard n == toRead else { throw StorageError(.corruption, "snapshot file \(file.path): shorter than it was") }
            scratch.withUnsafeBytes { raw in
                let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                checksum.update(chunk)
                buffer.append(contentsOf: chunk)
            }
            fileOffset += UInt64(n)
        }

        var trailerBytes = [UInt8](repeating: 0, count: SnapshotFile.trailerSize)
        _ = try trailerBytes.withMutableBytes { raw throws(StorageError) in try file.read(into: raw, at: recordsEnd) }
        let trailer = try SnapshotFile.decodeTrailer(trailerBytes)
        guard trailer.checksum == checksum.value else {
            throw StorageError(.corruption, "snapshot file \(file.path): checksum mismatch")
        }
        guard trailer.recordCount == count else {
            throw StorageError(.corruption, "snapshot file \(file.path): \(count) records, trailer says \(trailer.recordCount)")
        }
        guard sawAppliedIndex else {
            throw StorageError(.corruption, "snapshot file \(file.path): no applied index")
        }
        return VerifiedSnapshot(
            path: file.path, header: header, size: fileSize, recordCount: count, checksum: trailer.checksum)
    }

    /// Reads the whole file, checking it, without doing anything with the records.
    static func verify(path: String, bufferSize: Int = SnapshotFile.defaultBufferSize) throws(StorageError) -> VerifiedSnapshot {
        var reader = try SnapshotRecordReader(path: path, bufferSize: bufferSize)
        return try reader.forEachRecord { _, _, _ throws(StorageError) in }
    }

    /// A record size as an `Int`, saturating: a hostile length fails the bounds check later
    /// instead of trapping here.
    private static func clamp(_ n: UInt64) -> Int { n > UInt64(Int.max / 2) ? Int.max / 2 : Int(n) }
}

extension SnapshotFile {
    /// Reads the file at `path` through, checking its header, every record and its trailer
    /// (length, count and CRC-32C). Throws `.corruption` if anything is wrong.
    public static func verify(path: String) throws(StorageError) -> VerifiedSnapshot {
        try SnapshotRecordReader.verify(path: path)
    }

    /// The header of the file at `path`, without reading the records.
    public static func header(path: String) throws(StorageError) -> SnapshotHeader {
        let file = try FileDescriptor.openForReading(path)
        return try readHeader(file, fileSize: try file.size()).header
    }
}
