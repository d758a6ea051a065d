/// A growable big-endian byte buffer for Runnel's binary encodings (log entries, metadata
/// rows, keys). Variable-length fields are length-prefixed.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    public mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(v >> 24)); bytes.append(UInt8((v >> 16) & 0xFF))
        bytes.append(UInt8((v >> 8) & 0xFF)); bytes.append(UInt8(v & 0xFF))
    }
    public mutating func u64(_ v: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((v >> UInt64(shift)) & 0xFF)) }
    }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    /// LEB128 unsigned varint, for counts and lengths.
    public mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
    public mutating func blob(_ v: some Collection<UInt8>) {
        varint(UInt64(v.count))
        bytes.append(contentsOf: v)
    }
    public mutating func string(_ v: String) { blob(Array(v.utf8)) }
    public mutating func raw(_ v: some Collection<UInt8>) { bytes.append(contentsOf: v) }
}

/// The error of a truncated or malformed encoding.
public struct DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "decoding error: \(message)" }
}

/// Reads what `ByteWriter` wrote; every read is bounds-checked and throws on truncation.
public struct ByteReader {
    private let bytes: [UInt8]
    public private(set) var index: Int

    public init(_ bytes: [UInt8], at index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    public var isAtEnd: Bool { index >= bytes.count }
    public var remaining: Int { bytes.count - index }

    private mutating func need(_ n: Int) throws(DecodingError) {
        guard n >= 0, bytes.count - index >= n else { throw DecodingError("truncated at byte \(index), wanted \(n)") }
    }

    public mutating func u8() throws(DecodingError) -> UInt8 {
        try need(1)
        defer { index += 1 }
        return bytes[index]
    }
    public mutating func bool() throws(DecodingError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let other: throw DecodingError("bad bool \(other)")
        }
    }
    public mutating func u32() throws(DecodingError) -> UInt32 {
        try need(4)
        defer { index += 4 }
        return UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8 | UInt32(bytes[index + 3])
    }
    public mutating func u64() throws(DecodingError) -> UInt64 {
        try need(8)
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[index + i]) }
        index += 8
        return v
    }
    public mutating func i64() throws(DecodingError) -> Int64 { Int64(bitPattern: try u64()) }
    public mutating func varint() throws(DecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            guard shift < 64 else { throw DecodingError("varint too long") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }
    public mutating func blob() throws(DecodingError) -> [UInt8] {
        let n = try varint()
        guard n <= UInt64(remaining) else { throw DecodingError("blob of \(n) bytes past the end") }
        defer { index += Int(n) }
        return Array(bytes[index..<index + Int(n)])
    }
    public mutating func string() throws(DecodingError) -> String {
        let utf8 = try blob()
        guard let s = String(validating: utf8, as: UTF8.self) else { throw DecodingError("invalid UTF-8 string") }
        return s
    }
    public mutating func rest() -> [UInt8] {
        defer { index = bytes.count }
        return Array(bytes[index...])
    }
}
