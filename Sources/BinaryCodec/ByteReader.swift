/// Reads what ``ByteWriter`` wrote, method for method.
///
/// Every read is bounds-checked and throws ``BinaryDecodingError`` instead of trapping, with
/// the offset of the value that failed; a failed read leaves the reader where it was. Lengths
/// and counts are checked against the bytes left before anything is allocated for them.
public struct ByteReader: Sendable {
    @usableFromInline let bytes: [UInt8]
    @usableFromInline var position: Int

    /// A reader over `bytes`, starting at byte `offset`.
    public init(_ bytes: [UInt8], at offset: Int = 0) {
        self.bytes = bytes
        position = min(max(offset, 0), bytes.count)
    }

    /// The offset of the next byte to read.
    @inlinable public var offset: Int { position }

    /// How many bytes are left.
    @inlinable public var remaining: Int { bytes.count - position }

    /// Whether every byte has been read.
    @inlinable public var isAtEnd: Bool { position >= bytes.count }

    /// One byte.
    @inlinable
    public mutating func u8() throws(BinaryDecodingError) -> UInt8 {
        guard position < bytes.count else { throw BinaryDecodingError(.truncated, offset: position, "UInt8 needs 1 byte") }
        defer { position += 1 }
        return bytes[position]
    }

    /// A byte that must be 0 or 1; anything else is `.invalidValue`.
    @inlinable
    public mutating func bool() throws(BinaryDecodingError) -> Bool {
        let start = position
        switch try u8() {
        case 0: return false
        case 1: return true
        case let other:
            position = start
            throw BinaryDecodingError(.invalidValue, offset: start, "bool \(other)")
        }
    }

    /// Two bytes, big-endian.
    @inlinable public mutating func u16() throws(BinaryDecodingError) -> UInt16 { try fixedWidth(UInt16.self) }

    /// Four bytes, big-endian.
    @inlinable public mutating func u32() throws(BinaryDecodingError) -> UInt32 { try fixedWidth(UInt32.self) }

    /// Eight bytes, big-endian.
    @inlinable public mutating func u64() throws(BinaryDecodingError) -> UInt64 { try fixedWidth(UInt64.self) }

    /// Eight bytes, big-endian, as a two's-complement `Int64`.
    @inlinable
    public mutating func i64() throws(BinaryDecodingError) -> Int64 { Int64(bitPattern: try u64()) }

    /// An unsigned LEB128 varint. Non-minimal encodings are accepted (as they always were);
    /// one that does not fit 64 bits is `.invalidValue`.
    @inlinable
    public mutating func varint() throws(BinaryDecodingError) -> UInt64 {
        let start = position
        var at = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard at < bytes.count else { throw BinaryDecodingError(.truncated, offset: start, "varint") }
            let byte = bytes[at]
            at += 1
            if shift == 63 && byte > 1 { throw BinaryDecodingError(.invalidValue, offset: start, "varint over 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                position = at
                return result
            }
            shift += 7
        }
    }

    /// A varint length and that many bytes.
    @inlinable
    public mutating func varintBlob() throws(BinaryDecodingError) -> [UInt8] {
        let start = position
        let n = try varint()
        return try take(n, start: start)
    }

    /// A ``varintBlob()`` that must be valid UTF-8 (`.invalidValue` otherwise).
    @inlinable
    public mutating func varintString() throws(BinaryDecodingError) -> String {
        let start = position
        let utf8 = try varintBlob()
        guard let s = String(validating: utf8, as: UTF8.self) else {
            position = start
            throw BinaryDecodingError(.invalidValue, offset: start, "invalid UTF-8 string")
        }
        return s
    }

    /// A 4-byte big-endian length and that many bytes.
    @inlinable
    public mutating func u32Blob() throws(BinaryDecodingError) -> [UInt8] {
        let start = position
        let n = try u32()
        return try take(UInt64(n), start: start)
    }

    /// A varint element count, checked against the bytes left (each element takes at least
    /// `minElementSize`), so a hostile count cannot make the caller allocate or loop for long.
    @inlinable
    public mutating func varintCount(minElementSize: Int = 1) throws(BinaryDecodingError) -> Int {
        let start = position
        return try checkedCount(try varint(), minElementSize: minElementSize, start: start)
    }

    /// A 4-byte big-endian element count, checked like ``varintCount(minElementSize:)``.
    @inlinable
    public mutating func u32Count(minElementSize: Int = 1) throws(BinaryDecodingError) -> Int {
        let start = position
        return try checkedCount(UInt64(try u32()), minElementSize: minElementSize, start: start)
    }

    /// Moves past `n` bytes without copying them (their offset is ``offset`` before the call);
    /// throws `.truncated` if fewer are left.
    @inlinable
    public mutating func skip(_ n: UInt64) throws(BinaryDecodingError) {
        guard n <= UInt64(remaining) else {
            throw BinaryDecodingError(.truncated, offset: position, "skipping \(n) with \(remaining) bytes left")
        }
        position += Int(n)
    }

    /// Every byte left (the counterpart of ``ByteWriter/raw(_:)`` at the end of a buffer).
    @inlinable
    public mutating func rest() -> [UInt8] {
        defer { position = bytes.count }
        return Array(bytes[position...])
    }

    /// Throws `.trailingBytes` unless every byte has been read.
    @inlinable
    public func expectEnd() throws(BinaryDecodingError) {
        if position != bytes.count {
            throw BinaryDecodingError(.trailingBytes, offset: position, "\(remaining) bytes after the value")
        }
    }

    @inlinable
    mutating func fixedWidth<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(BinaryDecodingError) -> T {
        let v = try BigEndian.read(T.self, from: bytes, at: position)
        position += T.bitWidth / 8
        return v
    }

    @inlinable
    mutating func take(_ n: UInt64, start: Int) throws(BinaryDecodingError) -> [UInt8] {
        guard n <= UInt64(remaining) else {
            let left = remaining
            position = start
            throw BinaryDecodingError(.truncated, offset: start, "length \(n) with \(left) bytes left")
        }
        defer { position += Int(n) }
        return Array(bytes[position..<position + Int(n)])
    }

    @inlinable
    mutating func checkedCount(_ n: UInt64, minElementSize: Int, start: Int) throws(BinaryDecodingError) -> Int {
        guard n <= UInt64(remaining / max(minElementSize, 1)) else {
            let left = remaining
            position = start
            throw BinaryDecodingError(.truncated, offset: start, "count \(n) with \(left) bytes left")
        }
        return Int(n)
    }
}
