import BinaryCodec
import Raft
import Testing

@Suite struct WireFormatTests {
    static let membership = Membership(voters: [1, 2, 3], learners: [9])
    static let meta = SnapshotMetadata(index: 77, term: 5, membership: membership)
    static let entries = [
        Entry(term: 3, index: 10, kind: .normal, data: [1, 2, 3]),
        Entry(term: 3, index: 11, kind: .empty),
        Entry(term: 4, index: 12, kind: .configuration, data: membership.encoded()),
    ]

    static let messages: [Message] = [
        .preVote(lastIndex: 12, lastTerm: 4),
        .preVoteResponse(granted: true),
        .vote(lastIndex: 12, lastTerm: 4, transfer: true),
        .voteResponse(granted: false),
        .append(prevIndex: 9, prevTerm: 3, entries: entries, commit: 8),
        .append(prevIndex: 9, prevTerm: 3, entries: [], commit: 8),
        .appendResponse(index: 12, reject: true, hintIndex: 7, hintTerm: 2),
        .heartbeat(commit: 8, readRound: 3),
        .heartbeatResponse(readRound: 3),
        .snapshotChunk(metadata: meta, totalBytes: 300, offset: 100, data: Array(repeating: 0xAB, count: 100), done: false),
        .snapshotResponse(snapshotIndex: 77, nextOffset: 200, installedIndex: 0),
        .timeoutNow,
        .readIndex(contexts: [[1], [], [2, 3]]),
        .readIndexResponse(contexts: [[1, 2]], index: 40),
    ].map { Message(from: 1, to: UInt64.max, term: 0x0102_0304_0506_0708, payload: $0) }

    @Test(arguments: messages)
    func messageRoundTrips(_ m: Message) throws {
        #expect(try Message(decoding: m.encoded()) == m)
    }

    /// Drip feed: every strict prefix is reported as truncated, never mis-decoded or trapping.
    @Test(arguments: messages)
    func everyPrefixIsTruncated(_ m: Message) {
        let bytes = m.encoded()
        for n in 0..<bytes.count {
            let error = #expect(throws: BinaryDecodingError.self) { try Message(decoding: Array(bytes.prefix(n))) }
            #expect(error?.code == .truncated, "prefix \(n) of \(bytes.count)")
            #expect((error?.offset ?? .max) <= n, "prefix \(n) of \(bytes.count)")
        }
        let trailing = #expect(throws: BinaryDecodingError.self) { try Message(decoding: bytes + [0]) }
        #expect(trailing?.code == .trailingBytes && trailing?.offset == bytes.count)
    }

    @Test func entriesHardStateMembershipAndMetadataRoundTrip() throws {
        for e in Self.entries { #expect(try Entry(decoding: e.encoded()) == e) }
        let hs = HardState(term: 9, vote: 3, commit: 120)
        #expect(try HardState(decoding: hs.encoded()) == hs)
        #expect(try Membership(decoding: Self.membership.encoded()) == Self.membership)
        #expect(try SnapshotMetadata(decoding: Self.meta.encoded()) == Self.meta)
        // Big-endian, fixed width: stable for keys and on-disk values.
        #expect(HardState(term: 1, vote: 2, commit: 3).encoded() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3])
    }

    @Test func invalidTagsAreRejected() {
        var bytes = Message(from: 1, to: 2, term: 3, payload: .timeoutNow).encoded()
        bytes[24] = 0xEE
        let badTag = #expect(throws: BinaryDecodingError.self) { try Message(decoding: bytes) }
        #expect(badTag?.code == .unknownTag && badTag?.offset == 24)
        var entry = Entry(term: 1, index: 1).encoded()
        entry[16] = 9
        let badKind = #expect(throws: BinaryDecodingError.self) { try Entry(decoding: entry) }
        #expect(badKind?.code == .unknownTag && badKind?.offset == 16)
    }

    @Test func hugeCountsDoNotAllocate() {
        // An append claiming 2^32-1 entries in a short buffer fails fast as truncated.
        var w = ByteWriter()
        Message(from: 1, to: 2, term: 3, payload: .append(prevIndex: 0, prevTerm: 0, entries: [], commit: 0)).encode(into: &w)
        var bytes = w.bytes
        bytes.replaceSubrange(bytes.count - 4..<bytes.count, with: [0xFF, 0xFF, 0xFF, 0xFF])
        let error = #expect(throws: BinaryDecodingError.self) { try Message(decoding: bytes) }
        #expect(error?.code == .truncated && error?.offset == bytes.count - 4)
    }
}
