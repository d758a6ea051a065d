// Binary encodings of messages, entries, hard state and membership. The peer transport frames
// an encoded message with its own length prefix and protocol version; the log store keeps
// encoded entries and hard state. Byte strings and counts here carry 4-byte big-endian
// lengths (`u32Blob`, `u32Count`), unlike the varint lengths of the stream model's formats.

import BinaryCodec

extension Entry {
    public func encode(into w: inout ByteWriter) {
        w.u64(term)
        w.u64(index)
        w.u8(kind.rawValue)
        w.u32Blob(data)
    }

    public init(from r: inout ByteReader) throws(BinaryDecodingError) {
        let term = try r.u64()
        let index = try r.u64()
        let kindOffset = r.offset
        guard let kind = EntryKind(rawValue: try r.u8()) else {
            throw BinaryDecodingError(.unknownTag, offset: kindOffset, "entry kind")
        }
        self.init(term: term, index: index, kind: kind, data: try r.u32Blob())
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: data.count + 21)
        encode(into: &w)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(BinaryDecodingError) {
        var r = ByteReader(bytes)
        try self.init(from: &r)
        try r.expectEnd()
    }
}

extension HardState {
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 24)
        w.u64(term)
        w.u64(vote)
        w.u64(commit)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(BinaryDecodingError) {
        var r = ByteReader(bytes)
        self.init(term: try r.u64(), vote: try r.u64(), commit: try r.u64())
        try r.expectEnd()
    }
}

extension Membership {
    public func encode(into w: inout ByteWriter) {
        w.u32(UInt32(voters.count))
        for v in voters { w.u64(v) }
        w.u32(UInt32(learners.count))
        for l in learners { w.u64(l) }
    }

    public init(from r: inout ByteReader) throws(BinaryDecodingError) {
        var voters: [NodeID] = []
        for _ in 0..<(try r.u32Count(minElementSize: 8)) { voters.append(try r.u64()) }
        var learners: [NodeID] = []
        for _ in 0..<(try r.u32Count(minElementSize: 8)) { learners.append(try r.u64()) }
        self.init(voters: voters, learners: learners)
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        encode(into: &w)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(BinaryDecodingError) {
        var r = ByteReader(bytes)
        try self.init(from: &r)
        try r.expectEnd()
    }
}

/// What a configuration entry carries (thesis §4.1): the resulting membership and an opaque
/// context the driver attaches (the added member's peer address, so every server learns it
/// from the log). Entries written before the context existed hold the membership alone and
/// decode with an empty context.
public struct ConfigurationEntry: Sendable, Hashable {
    public var membership: Membership
    public var context: [UInt8]

    public init(membership: Membership, context: [UInt8] = []) {
        self.membership = membership
        self.context = context
    }

    /// The membership, then (only when the context is not empty) the context with a 32-bit
    /// length prefix, so an entry without a context is byte-identical to the old format.
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        membership.encode(into: &w)
        if !context.isEmpty { w.u32Blob(context) }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(BinaryDecodingError) {
        var r = ByteReader(bytes)
        membership = try Membership(from: &r)
        context = r.isAtEnd ? [] : try r.u32Blob()
        try r.expectEnd()
    }
}

extension SnapshotMetadata {
    public func encode(into w: inout ByteWriter) {
        w.u64(index)
        w.u64(term)
        membership.encode(into: &w)
    }

    public init(from r: inout ByteReader) throws(BinaryDecodingError) {
        self.init(index: try r.u64(), term: try r.u64(), membership: try Membership(from: &r))
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        encode(into: &w)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(BinaryDecodingError) {
        var r = ByteReader(bytes)
        try self.init(from: &r)
        try r.expectEnd()
    }
}

extension Message {
    private enum Tag: UInt8 {
        case preVote = 1, preVoteResponse, vote, voteResponse, append, appendResponse, heartbeat
        case heartbeatResponse, snapshotChunk, snapshotResponse, timeoutNow, readIndex, readIndexResponse
    }

    public func encode(into w: inout ByteWriter) {
        w.u64(from)
        w.u64(to)
        w.u64(term)
        switch payload {
        case let .preVote(li, lt):
            w.u8(Tag.preVote.rawValue); w.u64(li); w.u64(lt)
        case let .preVoteResponse(g):
            w.u8(Tag.preVoteResponse.rawValue); w.bool(g)
        case let .vote(li, lt, tr):
            w.u8(Tag.vote.rawValue); w.u64(li); w.u64(lt); w.bool(tr)
        case let .voteResponse(g):
            w.u8(Tag.voteResponse.rawValue); w.bool(g)
        case let .append(pi, pt, entries, commit):
            w.u8(Tag.append.rawValue); w.u64(pi); w.u64(pt); w.u64(commit)
            w.u32(UInt32(entries.count))
            for e in entries { e.encode(into: &w) }
        case let .appendResponse(i, reject, hi, ht):
            w.u8(Tag.appendResponse.rawValue); w.u64(i); w.bool(reject); w.u64(hi); w.u64(ht)
        case let .heartbeat(c, round):
            w.u8(Tag.heartbeat.rawValue); w.u64(c); w.u64(round)
        case let .heartbeatResponse(round):
            w.u8(Tag.heartbeatResponse.rawValue); w.u64(round)
        case let .snapshotChunk(meta, total, offset, data, done):
            w.u8(Tag.snapshotChunk.rawValue); meta.encode(into: &w)
            w.u64(total); w.u64(offset); w.u32Blob(data); w.bool(done)
        case let .snapshotResponse(si, no, ii):
            w.u8(Tag.snapshotResponse.rawValue); w.u64(si); w.u64(no); w.u64(ii)
        case .timeoutNow:
            w.u8(Tag.timeoutNow.rawValue)
        case let .readIndex(contexts):
            w.u8(Tag.readIndex.rawValue)
            w.u32(UInt32(contexts.count))
            for c in contexts { w.u32Blob(c) }
        case let .readIndexResponse(contexts, index):
            w.u8(Tag.readIndexResponse.rawValue); w.u64(index)
            w.u32(UInt32(contexts.count))
            for c in contexts { w.u32Blob(c) }
        }
    }

    public init(from r: inout ByteReader) throws(BinaryDecodingError) {
        let from = try r.u64()
        let to = try r.u64()
        let term = try r.u64()
        let tagOffset = r.offset
        guard let tag = Tag(rawValue: try r.u8()) else {
            throw BinaryDecodingError(.unknownTag, offset: tagOffset, "message type")
        }
        let payload: MessagePayload
        switch tag {
        case .preVote: payload = .preVote(lastIndex: try r.u64(), lastTerm: try r.u64())
        case .preVoteResponse: payload = .preVoteResponse(granted: try r.bool())
        case .vote: payload = .vote(lastIndex: try r.u64(), lastTerm: try r.u64(), transfer: try r.bool())
        case .voteResponse: payload = .voteResponse(granted: try r.bool())
        case .append:
            let pi = try r.u64(), pt = try r.u64(), commit = try r.u64()
            var entries: [Entry] = []
            let n = try r.u32Count(minElementSize: 21)
            entries.reserveCapacity(n)
            for _ in 0..<n { entries.append(try Entry(from: &r)) }
            payload = .append(prevIndex: pi, prevTerm: pt, entries: entries, commit: commit)
        case .appendResponse:
            payload = .appendResponse(index: try r.u64(), reject: try r.bool(),
                                      hintIndex: try r.u64(), hintTerm: try r.u64())
        case .heartbeat: payload = .heartbeat(commit: try r.u64(), readRound: try r.u64())
        case .heartbeatResponse: payload = .heartbeatResponse(readRound: try r.u64())
        case .snapshotChunk:
            let meta = try SnapshotMetadata(from: &r)
            payload = .snapshotChunk(metadata: meta, totalBytes: try r.u64(), offset: try r.u64(),
                                     data: try r.u32Blob(), done: try r.bool())
        case .snapshotResponse:
            payload = .snapshotResponse(snapshotIndex: try r.u64(), nextOffset: try r.u64(),
                                        installedIndex: try r.u64())
        case .timeoutNow: payload = .timeoutNow
        case .readIndex:
            var cs: [[UInt8]] = []
            for _ in 0..<(try r.u32Count(minElementSize: 4)) { cs.append(try r.u32Blob()) }
            payload = .readIndex(contexts: cs)
        case .readIndexResponse:
            let index = try r.u64()
            var cs: [[UInt8]] = []
            for _ in 0..<(try r.u32Count(minElementSize: 4)) { cs.append(try r.u32Blob()) }
            payload = .readIndexResponse(contexts: cs, index: index)
        }
        self.init(from: from, to: to, term: term, payload: payload)
    }

    /// The message's wire encoding (without transport framing).
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        encode(into: &w)
        return w.bytes
    }

    /// Decodes exactly one message; throws `.truncated` if `bytes` ends early.
    public init(decoding bytes: [UInt8]) throws(BinaryDecodingError) {
        var r = ByteReader(bytes)
        try self.init(from: &r)
        try r.expectEnd()
    }
}
