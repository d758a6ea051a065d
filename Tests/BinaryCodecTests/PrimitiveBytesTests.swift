import BinaryCodec
import Testing

/// One primitive of the codec: how to write it, the exact bytes that must come out, and how
/// to read it back (returning what was read, for comparison).
struct Primitive: Sendable, CustomTestStringConvertible {
    var name: String
    var write: @Sendable (inout ByteWriter) -> Void
    var bytes: [UInt8]
    var read: @Sendable (inout ByteReader) throws(BinaryDecodingError) -> String
    var expected: String

    var testDescription: String { name }

    init<T: Equatable & Sendable>(
        _ name: String, _ value: T, _ write: @escaping @Sendable (inout ByteWriter, T) -> Void, _ bytes: [UInt8],
        _ read: @escaping @Sendable (inout ByteReader) throws(BinaryDecodingError) -> T
    ) {
        self.name = name
        self.write = { write(&$0, value) }
        self.bytes = bytes
        self.read = { r throws(BinaryDecodingError) in "\(try read(&r))" }
        self.expected = "\(value)"
    }
}

/// Pins the bytes of every primitive, so a change to any on-disk or wire format fails here
/// first: log entries, Raft messages, commands and rows all exist on disk and on peers of
/// other versions, and must keep decoding.
@Suite struct PrimitiveBytesTests {
    static let table: [Primitive] = [
        Primitive("u8", UInt8(0xAB), { $0.u8($1) }, [0xAB]) { r throws(BinaryDecodingError) in try r.u8() },
        Primitive("bool true", true, { $0.bool($1) }, [1]) { r throws(BinaryDecodingError) in try r.bool() },
        Primitive("bool false", false, { $0.bool($1) }, [0]) { r throws(BinaryDecodingError) in try r.bool() },
        Primitive("u16", UInt16(0x0102), { $0.u16($1) }, [0x01, 0x02]) { r throws(BinaryDecodingError) in try r.u16() },
        Primitive("u32", UInt32(0x0102_0304), { $0.u32($1) }, [1, 2, 3, 4]) { r throws(BinaryDecodingError) in try r.u32() },
        Primitive("u64", UInt64(0x0102_0304_0506_0708), { $0.u64($1) }, [1, 2, 3, 4, 5, 6, 7, 8]) { r throws(BinaryDecodingError) in try r.u64() },
        Primitive("u64 max", UInt64.max, { $0.u64($1) }, [UInt8](repeating: 0xFF, count: 8)) { r throws(BinaryDecodingError) in try r.u64() },
        Primitive("i64 -2", Int64(-2), { $0.i64($1) }, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]) { r throws(BinaryDecodingError) in try r.i64() },
        Primitive("varint 0", UInt64(0), { $0.varint($1) }, [0x00]) { r throws(BinaryDecodingError) in try r.varint() },
        Primitive("varint 127", UInt64(127), { $0.varint($1) }, [0x7F]) { r throws(BinaryDecodingError) in try r.varint() },
        Primitive("varint 128", UInt64(128), { $0.varint($1) }, [0x80, 0x01]) { r throws(BinaryDecodingError) in try r.varint() },
        Primitive("varint 300", UInt64(300), { $0.varint($1) }, [0xAC, 0x02]) { r throws(BinaryDecodingError) in try r.varint() },
        Primitive("varint max", UInt64.max, { $0.varint($1) },
                  [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) { r throws(BinaryDecodingError) in try r.varint() },
        Primitive("varintBlob", [UInt8]([9, 8, 7]), { $0.varintBlob($1) }, [3, 9, 8, 7]) { r throws(BinaryDecodingError) in try r.varintBlob() },
        Primitive("varintBlob empty", [UInt8](), { $0.varintBlob($1) }, [0]) { r throws(BinaryDecodingError) in try r.varintBlob() },
        Primitive("varintBlob 200", [UInt8](repeating: 5, count: 200), { $0.varintBlob($1) },
                  [0xC8, 0x01] + [UInt8](repeating: 5, count: 200)) { r throws(BinaryDecodingError) in try r.varintBlob() },
        Primitive("varintString", "caf\u{E9}", { $0.varintString($1) }, [5, 0x63, 0x61, 0x66, 0xC3, 0xA9]) { r throws(BinaryDecodingError) in try r.varintString() },
        Primitive("u32Blob", [UInt8]([9, 8, 7]), { $0.u32Blob($1) }, [0, 0, 0, 3, 9, 8, 7]) { r throws(BinaryDecodingError) in try r.u32Blob() },
        Primitive("u32Blob empty", [UInt8](), { $0.u32Blob($1) }, [0, 0, 0, 0]) { r throws(BinaryDecodingError) in try r.u32Blob() },
        Primitive("varintCount", 2, { $0.varint(UInt64($1)); $0.raw([0xAA, 0xBB]) }, [2, 0xAA, 0xBB]) { r throws(BinaryDecodingError) in
            let n = try r.varintCount(); _ = r.rest(); return n
        },
        Primitive("u32Count", 1, { $0.u32(UInt32($1)); $0.raw([1, 2, 3, 4, 5, 6, 7, 8]) }, [0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]) { r throws(BinaryDecodingError) in
            let n = try r.u32Count(minElementSize: 8); _ = r.rest(); return n
        },
        Primitive("raw and rest", [UInt8]([1, 2]), { $0.raw($1) }, [1, 2]) { r throws(BinaryDecodingError) in r.rest() },
    ]

    @Test(arguments: table)
    func writesExactlyTheseBytes(_ p: Primitive) {
        var w = ByteWriter()
        p.write(&w)
        #expect(w.bytes == p.bytes)
    }

    @Test(arguments: table)
    func readsThemBack(_ p: Primitive) throws {
        var r = ByteReader(p.bytes)
        #expect(try p.read(&r) == p.expected)
        try r.expectEnd()
    }

    /// Drip feed: every strict prefix throws `.truncated` (never traps), at an offset inside the
    /// prefix, and leaves the reader where it was.
    @Test(arguments: table.filter { $0.name != "raw and rest" && !$0.bytes.isEmpty })
    func everyPrefixIsTruncated(_ p: Primitive) {
        for n in 0..<p.bytes.count {
            var r = ByteReader(Array(p.bytes.prefix(n)))
            let error = #expect(throws: BinaryDecodingError.self, "\(p.name), \(n) bytes") { _ = try p.read(&r) }
            #expect(error?.code == .truncated, "\(p.name), \(n) bytes")
            #expect(error?.offset == 0, "\(p.name), \(n) bytes")
            #expect(r.offset == 0, "\(p.name), \(n) bytes")
        }
    }

    /// The same, after a value already read: the offset counts from the start of the buffer.
    @Test(arguments: table.filter { $0.name != "raw and rest" && !$0.bytes.isEmpty })
    func truncationOffsetsCountFromTheBufferStart(_ p: Primitive) {
        let prefix: [UInt8] = [0xEE, 0xEE, 0xEE]
        var r = ByteReader(prefix + p.bytes.dropLast(), at: prefix.count)
        let error = #expect(throws: BinaryDecodingError.self, "\(p.name)") { _ = try p.read(&r) }
        #expect(error?.code == .truncated && error?.offset == prefix.count, "\(p.name)")
    }
}
