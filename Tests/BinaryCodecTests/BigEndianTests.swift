import BinaryCodec
import Testing

/// The fixed-width helpers used for RocksDB keys and the peer hello: exact bytes, both
/// buffer kinds, and a throw (never a trap) on short input.
@Suite struct BigEndianTests {
    @Test func bytesAreMostSignificantFirst() {
        #expect(BigEndian.bytes(UInt16(0x0102)) == [1, 2])
        #expect(BigEndian.bytes(UInt32(0x0102_0304)) == [1, 2, 3, 4])
        #expect(BigEndian.bytes(UInt64(0x0102_0304_0506_0708)) == [1, 2, 3, 4, 5, 6, 7, 8])
        var bytes: [UInt8] = [9]
        BigEndian.append(UInt64(1), to: &bytes)
        #expect(bytes == [9, 0, 0, 0, 0, 0, 0, 0, 1])
    }

    @Test func readsBothBufferKinds() throws {
        let bytes: [UInt8] = [0xEE, 1, 2, 3, 4, 5, 6, 7, 8]
        #expect(try BigEndian.read(UInt64.self, from: bytes, at: 1) == 0x0102_0304_0506_0708)
        #expect(try BigEndian.read(UInt32.self, from: bytes, at: 1) == 0x0102_0304)
        #expect(try BigEndian.read(UInt16.self, from: bytes, at: 7) == 0x0708)
        try bytes.withUnsafeBytes { raw throws in
            #expect(try BigEndian.read(UInt64.self, from: raw, at: 1) == 0x0102_0304_0506_0708)
            #expect(try BigEndian.read(UInt16.self, from: raw) == 0xEE01)
        }
    }

    @Test(arguments: [-1, 1, 2, 8, 9, 10])
    func shortInputThrowsAtTheOffset(_ offset: Int) {
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        let error = #expect(throws: BinaryDecodingError.self) { try BigEndian.read(UInt64.self, from: bytes, at: offset) }
        #expect(error?.code == .truncated && error?.offset == offset)
        bytes.withUnsafeBytes { raw in
            let error = #expect(throws: BinaryDecodingError.self) { try BigEndian.read(UInt64.self, from: raw, at: offset) }
            #expect(error?.offset == offset)
        }
    }
}
