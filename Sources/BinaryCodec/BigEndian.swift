/// Big-endian (network order) fixed-width unsigned integers, on byte arrays and raw buffers.
///
/// Every Runnel format stores integers big-endian, so encoded keys sort numerically in
/// RocksDB and frames read the same on every host. Reads are bounds-checked and throw
/// `.truncated` rather than trap: keys, values and frames are hostile until validated.
public enum BigEndian {
    /// `value`'s bytes, most significant first.
    @inlinable
    public static func bytes<T: FixedWidthInteger & UnsignedInteger>(_ value: T) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(T.bitWidth / 8)
        append(value, to: &result)
        return result
    }

    /// Appends `value`'s bytes, most significant first.
    @inlinable
    public static func append<T: FixedWidthInteger & UnsignedInteger>(_ value: T, to bytes: inout [UInt8]) {
        for shift in stride(from: T.bitWidth - 8, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }

    /// The `T` stored `offset` bytes into `bytes` (an array, a slice, or a raw buffer such as a
    /// RocksDB key); throws `.truncated` (at `offset`) if the bytes end first.
    @inlinable
    public static func read<T: FixedWidthInteger & UnsignedInteger, Bytes: RandomAccessCollection<UInt8>>(
        _: T.Type, from bytes: Bytes, at offset: Int = 0
    ) throws(BinaryDecodingError) -> T where Bytes.Index == Int {
        let size = T.bitWidth / 8
        guard offset >= 0, offset <= bytes.count, bytes.count - offset >= size else {
            throw BinaryDecodingError(.truncated, offset: offset, "\(T.self) needs \(size) bytes")
        }
        let first = bytes.startIndex + offset
        var value: T = 0
        for i in first..<first + size { value = value << 8 | T(bytes[i]) }
        return value
    }
}
