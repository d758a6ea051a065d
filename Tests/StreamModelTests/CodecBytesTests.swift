import BinaryCodec
import Testing
@testable import StreamModel

/// Command and row bytes, pinned as the version before the shared `BinaryCodec` wrote them:
/// log entries and metadata rows on disk hold these, so any change here is a format change
/// (which needs a new version byte), not a refactoring. Strings, blobs and counts carry LEB128
/// varint lengths.
@Suite struct CodecBytesTests {
    static let path = StreamPath(bucket: "b", name: "caf\u{E9}")

    static func encoded(_ command: Command) -> [UInt8] {
        var w = ByteWriter()
        Codec.encode(command, into: &w)
        return w.bytes
    }

    static func decoded(_ bytes: [UInt8]) throws -> Command {
        var r = ByteReader(bytes)
        let command = try Codec.decodeCommand(&r)
        try r.expectEnd()
        return command
    }

    @Test func anAppendWithAProducer() throws {
        let command = Command.append(AppendStream(
            path: Self.path, contentType: "text/plain", body: .bytes([1, 2, 3]), close: true,
            producer: ProducerTuple(id: "p", epoch: 3, seq: 300), streamSeq: "7", ifMatch: nil))
        let bytes: [UInt8] = [
            0x04, 0x01, 0x62, 0x05, 0x63, 0x61, 0x66, 0xC3, 0xA9, 0x01, 0x0A, 0x74, 0x65, 0x78,
            0x74, 0x2F, 0x70, 0x6C, 0x61, 0x69, 0x6E, 0x00, 0x03, 0x01, 0x02, 0x03, 0x01, 0x01,
            0x01, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x01, 0x2C, 0x01, 0x01, 0x37, 0x00
        ]
        #expect(Self.encoded(command) == bytes)
        #expect(try Self.decoded(bytes) == command)
    }

    @Test func aForkingCreateWithAJSONBody() throws {
        let command = Command.create(CreateStream(
            path: Self.path, expiry: .at(milliseconds: -5), body: .json(FramedMessages([[0x31]])),
            fork: ForkRequest(source: StreamPath(bucket: "b", name: "s"), offset: Offset(epoch: 1, position: 2), subOffset: 3,
                              materializedPrefix: [9], sourceID: 9),
            ifMatch: "*"))
        let bytes: [UInt8] = [
            0x03, 0x01, 0x62, 0x05, 0x63, 0x61, 0x66, 0xC3, 0xA9, 0x00, 0x02, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFB, 0x00, 0x02, 0x01, 0x05, 0x00, 0x00, 0x00, 0x01, 0x31,
            0x01, 0x01, 0x62, 0x01, 0x73, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x03, 0x01, 0x09, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00,
            0x01, 0x01, 0x2A
        ]
        #expect(Self.encoded(command) == bytes)
        #expect(try Self.decoded(bytes) == command)
    }

    @Test func aTouch() throws {
        let command = Command.touch([Self.path, StreamPath(bucket: "x", name: "y")])
        let bytes: [UInt8] = [
            0x06, 0x02, 0x01, 0x62, 0x05, 0x63, 0x61, 0x66, 0xC3, 0xA9, 0x01, 0x78, 0x01, 0x79
        ]
        #expect(Self.encoded(command) == bytes)
        #expect(try Self.decoded(bytes) == command)
    }

    /// A bucket without a limit is still written as version 1, which every version reads.
    @Test func aBucketRow() throws {
        let bucket = BucketMeta(name: "b1", createdAt: 12345, streamCount: 300)
        let bytes: [UInt8] = [
            0x01, 0x02, 0x62, 0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x39, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x01, 0x2C
        ]
        #expect(Codec.encode(bucket) == bytes)
        #expect(try Codec.decodeBucket(bytes) == bucket)
    }

    /// Version 2 carries the stored-bytes limit behind a presence byte.
    @Test func aBucketRowWithALimit() throws {
        let bucket = BucketMeta(name: "b1", createdAt: 12345, streamCount: 300, maxStoredBytes: 1_000_000)
        let bytes: [UInt8] = [
            0x02, 0x02, 0x62, 0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x39, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x01, 0x2C, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0F, 0x42,
            0x40
        ]
        #expect(Codec.encode(bucket) == bytes)
        #expect(try Codec.decodeBucket(bytes) == bucket)
        // A version-2 row whose presence byte says "none" has no limit.
        var unlimited = Array(bytes[..<20])
        unlimited.append(0x00)
        #expect(try Codec.decodeBucket(unlimited) == BucketMeta(name: "b1", createdAt: 12345, streamCount: 300))
        // Truncated, a bad presence byte, or an unknown version: an error, never a trap.
        #expect(throws: BinaryDecodingError.self) { try Codec.decodeBucket(Array(bytes.dropLast())) }
        #expect(throws: BinaryDecodingError.self) { try Codec.decodeBucket(Array(bytes[..<20]) + [0x02]) }
        #expect(throws: BinaryDecodingError.self) { try Codec.decodeBucket([0x03] + Array(bytes.dropFirst())) }
    }

    @Test func aBucketLimit() throws {
        let set = Command.setBucketLimit("b1", maxStoredBytes: 5000)
        let setBytes: [UInt8] = [0x0E, 0x02, 0x62, 0x31, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x13, 0x88]
        #expect(Self.encoded(set) == setBytes)
        #expect(try Self.decoded(setBytes) == set)
        let clear = Command.setBucketLimit("b1", maxStoredBytes: nil)
        let clearBytes: [UInt8] = [0x0E, 0x02, 0x62, 0x31, 0x00]
        #expect(Self.encoded(clear) == clearBytes)
        #expect(try Self.decoded(clearBytes) == clear)
    }
}
