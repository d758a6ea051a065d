/// Appends fixed-width big-endian integers and length-prefixed byte strings.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// One byte.
    public mutating func write(_ v: UInt8) { bytes.append(v) }

    /// Four bytes, big-endian.
    public mutating func write(_ v: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }

    /// Eight bytes, big-endian.
    public mutating func write(_ v: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    /// One byte, 0 or 1.
    public mutating func write(_ v: Bool) { bytes.append(v ? 1 : 0) }

    /// A 32-bit length followed by the bytes.
    public mutating func writeBytes(_ v: [UInt8]) {
        write(UInt32(v.count))
        bytes.append(contentsOf: v)
    }
}

/// Why bytes could not be decoded.
public struct DecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Sendable, Hashable { case truncated, invalidValue, trailingBytes }
        private let base: Base
        private init(_ b: Base) { base = b }
        /// More bytes are needed: the input ended inside a value.
        public static let truncated = Code(.truncated)
        /// A tag or value is out of range.
        public static let invalidValue = Code(.invalidValue)
        /// Bytes were left after a complete value.
        public static let trailingBytes = Code(.trailingBytes)
        public var description: String { "\(base)" }
    }

    public var code: Code
    /// Byte offset where decoding failed.
    public var offset: Int
    public init(_ code: Code, offset: Int) {
        self.code = code
        self.offset = offset
    }
    public var description: String { "\(code) at byte \(offset)" }
}

/// Reads what ``ByteWriter`` wrote.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        offset = 0
    }

    public var remaining: Int { bytes.count - offset }

    mutating func need(_ n: Int) throws(DecodingError) {
        if remaining < n { throw DecodingError(.truncated, offset: offset) }
    }

    /// Reads one byte; throws `.truncated` at the end of input.
    public mutating func readUInt8() throws(DecodingError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Reads a big-endian `UInt32`.
    public mutating func readUInt32() throws(DecodingError) -> UInt32 {
        try need(4)
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return v
    }

    /// Reads a big-endian `UInt64`.
    public mutating func readUInt64() throws(DecodingError) -> UInt64 {
        try need(8)
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return v
    }

    /// Reads a byte that must be 0 or 1.
    public mutating func readBool() throws(DecodingError) -> Bool {
        let b = try readUInt8()
        guard b <= 1 else { throw DecodingError(.invalidValue, offset: offset - 1) }
        return b == 1
    }

    /// Reads a 32-bit length and that many bytes.
    public mutating func readBytes() throws(DecodingError) -> [UInt8] {
        let n = Int(try readUInt32())
        try need(n)
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// A 32-bit count, checked against the bytes left (each element takes at least `minSize`).
    public mutating func readCount(minElementSize: Int = 1) throws(DecodingError) -> Int {
        let n = Int(try readUInt32())
        if n > remaining / max(minElementSize, 1) { throw DecodingError(.truncated, offset: offset) }
        return n
    }

    /// Throws `.trailingBytes` unless all input was consumed.
    public func expectEnd() throws(DecodingError) {
        if remaining != 0 { throw DecodingError(.trailingBytes, offset: offset) }
    }
}
