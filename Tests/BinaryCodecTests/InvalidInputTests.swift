import BinaryCodec
import Testing

/// Values that are complete but wrong: each throws its own code at the offset of the value.
@Suite struct InvalidInputTests {
    @Test func aBoolIsZeroOrOne() {
        var r = ByteReader([0, 2])
        _ = try? r.u8()
        let error = #expect(throws: BinaryDecodingError.self) { try r.bool() }
        #expect(error?.code == .invalidValue && error?.offset == 1)
        #expect(r.offset == 1)
    }

    @Test func stringsAreValidUTF8() {
        var r = ByteReader([2, 0xC3, 0x28])
        let error = #expect(throws: BinaryDecodingError.self) { try r.varintString() }
        #expect(error?.code == .invalidValue && error?.offset == 0)
    }

    @Test func aVarintFitsSixtyFourBits() throws {
        // Ten bytes whose last carries more than the top bit, and an eleven-byte varint.
        for bytes: [UInt8] in [[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],
                               [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]] {
            var r = ByteReader([7] + bytes, at: 1)
            let error = #expect(throws: BinaryDecodingError.self) { try r.varint() }
            #expect(error?.code == .invalidValue && error?.offset == 1)
        }
        // A non-minimal encoding still reads, as it always did.
        var r = ByteReader([0x81, 0x00])
        #expect(try r.varint() == 1)
    }

    @Test func countsAreBoundedByTheBytesLeft() {
        var r = ByteReader([0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x02])
        let error = #expect(throws: BinaryDecodingError.self) { try r.u32Count() }
        #expect(error?.code == .truncated && error?.offset == 0)
        var small = ByteReader([0, 0, 0, 1, 1, 2, 3])
        #expect(throws: BinaryDecodingError.self) { try small.u32Count(minElementSize: 8) }
        var varint = ByteReader([0x05, 1, 2])
        #expect(throws: BinaryDecodingError.self) { try varint.varintCount() }
    }

    @Test func trailingBytesAreReportedWhereTheyStart() {
        var r = ByteReader([1, 2, 3])
        _ = try? r.u8()
        let error = #expect(throws: BinaryDecodingError.self) { try r.expectEnd() }
        #expect(error?.code == .trailingBytes && error?.offset == 1)
    }
}
