/// Builds a binary encoding: fixed-width big-endian integers, LEB128 varints and
/// length-prefixed byte strings, appended to one growable buffer.
///
/// Runnel has two length-prefix conventions, both frozen by data on disk and peers on the
/// wire, and the method names say which one a field uses:
/// - `u32Blob` — a 4-byte big-endian length (Raft's messages, entries and snapshots);
/// - `varintBlob` / `varintString` — a LEB128 varint length (commands, metadata rows, peer
///   frames, command batches, stored peer addresses).
/// ``ByteReader`` reads each back with the method of the same name.
public struct ByteWriter: Sendable {
    @usableFromInline var storage: [UInt8]

    /// An empty writer with room for `capacity` bytes before it grows.
    public init(capacity: Int = 64) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    /// The bytes written so far.
    @inlinable public var bytes: [UInt8] { storage }

    /// How many bytes have been written.
    @inlinable public var count: Int { storage.count }

    /// Lends the bytes written so far without copying them.
    @inlinable
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        // `Array.withUnsafeBytes` rethrows untyped; keep the caller's error type.
        var result: Result<R, E>!
        storage.withUnsafeBytes { buffer in
            do throws(E) { result = .success(try body(buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Forgets the bytes written, keeping the buffer for reuse (a writer that flushes its
    /// contents to a file and starts over).
    @inlinable public mutating func removeAll() { storage.removeAll(keepingCapacity: true) }

    /// One byte.
    @inlinable public mutating func u8(_ v: UInt8) { storage.append(v) }

    /// One byte: 1 for true, 0 for false.
    @inlinable public mutating func bool(_ v: Bool) { storage.append(v ? 1 : 0) }

    /// Two bytes, big-endian.
    @inlinable public mutating func u16(_ v: UInt16) { BigEndian.append(v, to: &storage) }

    /// Four bytes, big-endian.
    @inlinable public mutating func u32(_ v: UInt32) { BigEndian.append(v, to: &storage) }

    /// Eight bytes, big-endian.
    @inlinable public mutating func u64(_ v: UInt64) { BigEndian.append(v, to: &storage) }

    /// Eight bytes: the two's-complement bit pattern, big-endian.
    @inlinable public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }

    /// An unsigned LEB128 varint: seven bits a byte, least significant group first, the high
    /// bit set on every byte but the last (one to ten bytes).
    @inlinable
    public mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            storage.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        storage.append(UInt8(v))
    }

    /// A varint length, then the bytes.
    @inlinable
    public mutating func varintBlob(_ v: some Collection<UInt8>) {
        varint(UInt64(v.count))
        storage.append(contentsOf: v)
    }

    /// The string's UTF-8 bytes as a ``varintBlob(_:)``.
    @inlinable public mutating func varintString(_ v: String) { varintBlob(Array(v.utf8)) }

    /// A 4-byte big-endian length, then the bytes (at most `UInt32.max` of them).
    @inlinable
    public mutating func u32Blob(_ v: some Collection<UInt8>) {
        u32(UInt32(v.count))
        storage.append(contentsOf: v)
    }

    /// The bytes as they are, without a length: the reader must know where they end
    /// (usually at the end of the buffer, read with ``ByteReader/rest()``).
    @inlinable public mutating func raw(_ v: some Collection<UInt8>) { storage.append(contentsOf: v) }
}
