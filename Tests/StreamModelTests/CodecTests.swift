import BinaryCodec
import SeededRandom
import Testing
@testable import StreamModel

/// The command codec carries every log entry: it round-trips, still reads what earlier
/// versions wrote, and throws (never traps) on damaged bytes.
@Suite struct CodecTests {
    static func roundTrip(_ command: Command) throws -> Command {
        var w = ByteWriter()
        Codec.encode(command, into: &w)
        var r = ByteReader(w.bytes)
        let decoded = try Codec.decodeCommand(&r)
        #expect(r.isAtEnd)
        return decoded
    }

    @Test func commandsRoundTrip() throws {
        let commands: [Command] = [
            create("caf\u{E9}", type: "application/json", body: .messages("1", "{\"a\":[2]}", "\"x\"")),
            append("cafe\u{301}", .messages("[]"), type: "application/json", producer: producer("p\u{FFFD}", 3, 4)),
            append("s", .text("bytes"), close: true, seq: "7", ifMatch: "*"),
            fork("f", from: "s", at: offset(3), sub: 2, prefix: [1, 2], sourceID: 9),
            .touch([path("a"), path("b", bucket: "b1")]), .expire, .createBucket("b1"), .delete(path("z")),
            .setBucketLimit("b1", maxStoredBytes: 0), .setBucketLimit("b1", maxStoredBytes: .max),
            .setBucketLimit("b1", maxStoredBytes: nil),
        ]
        for command in commands { #expect(try Self.roundTrip(command) == command) }
    }

    /// Versions before framed bodies wrote a JSON body as tag 1: a count, then one blob per
    /// message. Logs holding such entries still apply.
    @Test func theEarlierJSONBodyFormatDecodes() throws {
        var w = ByteWriter()
        w.u8(4)  // append
        w.varintString(defaultBucket); w.varintString("j")
        w.u8(1); w.varintString("application/json")  // content type
        w.u8(1); w.varint(2); w.varintBlob(utf8("1")); w.varintBlob(utf8("{}"))  // body, tag 1
        w.bool(false); w.u8(0); w.u8(0); w.u8(0)  // close, producer, Stream-Seq, If-Match
        var r = ByteReader(w.bytes)
        let command = try Codec.decodeCommand(&r)
        #expect(command == append("j", .messages("1", "{}"), type: "application/json"))
    }

    @Test func framedBodiesAreCheckedWhenDecoded() {
        var w = ByteWriter()
        Codec.encode(append("j", .messages("1", "2"), type: "application/json"), into: &w)
        var bytes = w.bytes
        // The declared message count no longer matches the frames.
        if let at = bytes.lastIndex(of: 2), at > 0 { bytes[at] = 3 }
        var r = ByteReader(bytes)
        #expect(throws: BinaryDecodingError.self) { try Codec.decodeCommand(&r) }
        #expect(FramedMessages(framed: [0, 0, 0, 9, 1], count: 1) == nil)
        #expect(FramedMessages(framed: [0, 0, 0, 1, 7], count: 1)?.messages == [[7]])
    }

    /// Truncations and random mutations of valid encodings throw or decode; none traps.
    @Test func damagedEntriesNeverTrap() {
        var rng = SplitMix64(seed: 77)
        var w = ByteWriter()
        Codec.encode(create("s", type: "application/json", body: .messages("1", "2")), into: &w)
        Codec.encode(append("s", .text("abc"), producer: producer("p", 1, 2)), into: &w)
        let valid = w.bytes
        for cut in 0..<valid.count {
            var r = ByteReader(Array(valid[..<cut]))
            _ = try? Codec.decodeCommand(&r)
        }
        for _ in 0..<20_000 {
            var bytes = valid
            for _ in 0..<(1 + rng.below(4)) {
                bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
            }
            var r = ByteReader(bytes)
            while !r.isAtEnd, (try? Codec.decodeCommand(&r)) != nil {}
        }
    }
}
