// Binary encodings of messages, entries, hard state and membership. The peer transport frames
// an encoded message with its own length prefix and protocol version; the log store keeps
// encoded entries and hard state.

extension Entry {
    public func encode(into w: inout ByteWriter) {
        w.write(term)
        w.write(index)
        w.write(kind.rawValue)
        w.writeBytes(data)
    }

    public init(from r: inout ByteReader) throws(DecodingError) {
        let term = try r.readUInt64()
        let index = try r.readUInt64()
        let kindOffset = r.offset
        guard let kind = EntryKind(rawValue: try r.readUInt8()) else { throw DecodingError(.invalidValue, offset: kindOffset) }
        self.init(term: term, index: index, kind: kind, data: try r.readBytes())
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: data.count + 21)
        encode(into: &w)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var r = ByteReader(bytes)
        try self.init(from: &r)
        try r.expectEnd()
    }
}

extension HardState {
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 24)
        w.write(term)
        w.write(vote)
        w.write(commit)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var r = ByteReader(bytes)
        self.init(term: try r.readUInt64(), vote: try r.readUInt64(), commit: try r.readUInt64())
        try r.expectEnd()
    }
}

extension Membership {
    public func encode(into w: inout ByteWriter) {
        w.write(UInt32(voters.count))
        for v in voters { w.write(v) }
        w.write(UInt32(learners.count))
        for l in learners { w.write(l) }
    }

    public init(from r: inout ByteReader) throws(DecodingError) {
        var voters: [NodeID] = []
        for _ in 0..<(try r.readCount(minElementSize: 8)) { voters.append(try r.readUInt64()) }
        var learners: [NodeID] = []
        for _ in 0..<(try r.readCount(minElementSize: 8)) { learners.append(try r.readUInt64()) }
        self.init(voters: voters, learners: learners)
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        encode(into: &w)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var r = ByteReader(bytes)
        try self.init(from: &r)
        try r.expectEnd()
    }
}

extension SnapshotMetadata {
    public func encode(into w: inout ByteWriter) {
        w.write(index)
        w.write(term)
        membership.encode(into: &w)
    }

    public init(from r: inout ByteReader) throws(DecodingError) {
        self.init(index: try r.readUInt64(), term: try r.readUInt64(), membership: try Membership(from: &r))
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        encode(into: &w)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
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
        w.write(from)
        w.write(to)
        w.write(term)
        switch payload {
        case let .preVote(li, lt):
            w.write(Tag.preVote.rawValue); w.write(li); w.write(lt)
        case let .preVoteResponse(g):
            w.write(Tag.preVoteResponse.rawValue); w.write(g)
        case let .vote(li, lt, tr):
            w.write(Tag.vote.rawValue); w.write(li); w.write(lt); w.write(tr)
        case let .voteResponse(g):
            w.write(Tag.voteResponse.rawValue); w.write(g)
        case let .append(pi, pt, entries, commit):
            w.write(Tag.append.rawValue); w.write(pi); w.write(pt); w.write(commit)
            w.write(UInt32(entries.count))
            for e in entries { e.encode(into: &w) }
        case let .appendResponse(i, reject, hi, ht):
            w.write(Tag.appendResponse.rawValue); w.write(i); w.write(reject); w.write(hi); w.write(ht)
        case let .heartbeat(c, round):
            w.write(Tag.heartbeat.rawValue); w.write(c); w.write(round)
        case let .heartbeatResponse(round):
            w.write(Tag.heartbeatResponse.rawValue); w.write(round)
        case let .snapshotChunk(meta, total, offset, data, done):
            w.write(Tag.snapshotChunk.rawValue); meta.encode(into: &w)
            w.write(total); w.write(offset); w.writeBytes(data); w.write(done)
        case let .snapshotResponse(si, no, ii):
            w.write(Tag.snapshotResponse.rawValue); w.write(si); w.write(no); w.write(ii)
        case .timeoutNow:
            w.write(Tag.timeoutNow.rawValue)
        case let .readIndex(contexts):
            w.write(Tag.readIndex.rawValue)
            w.write(UInt32(contexts.count))
            for c in contexts { w.writeBytes(c) }
        case let .readIndexResponse(contexts, index):
            w.write(Tag.readIndexResponse.rawValue); w.write(index)
            w.write(UInt32(contexts.count))
            for c in contexts { w.writeBytes(c) }
        }
    }

    public init(from r: inout ByteReader) throws(DecodingError) {
        let from = try r.readUInt64()
        let to = try r.readUInt64()
        let term = try r.readUInt64()
        let tagOffset = r.offset
        guard let tag = Tag(rawValue: try r.readUInt8()) else { throw DecodingError(.invalidValue, offset: tagOffset) }
        let payload: MessagePayload
        switch tag {
        case .preVote: payload = .preVote(lastIndex: try r.readUInt64(), lastTerm: try r.readUInt64())
        case .preVoteResponse: payload = .preVoteResponse(granted: try r.readBool())
        case .vote: payload = .vote(lastIndex: try r.readUInt64(), lastTerm: try r.readUInt64(), transfer: try r.readBool())
        case .voteResponse: payload = .voteResponse(granted: try r.readBool())
        case .append:
            let pi = try r.readUInt64(), pt = try r.readUInt64(), commit = try r.readUInt64()
            var entries: [Entry] = []
            let n = try r.readCount(minElementSize: 21)
            entries.reserveCapacity(n)
            for _ in 0..<n { entries.append(try Entry(from: &r)) }
            payload = .append(prevIndex: pi, prevTerm: pt, entries: entries, commit: commit)
        case .appendResponse:
            payload = .appendResponse(index: try r.readUInt64(), reject: try r.readBool(),
                                      hintIndex: try r.readUInt64(), hintTerm: try r.readUInt64())
        case .heartbeat: payload = .heartbeat(commit: try r.readUInt64(), readRound: try r.readUInt64())
        case .heartbeatResponse: payload = .heartbeatResponse(readRound: try r.readUInt64())
        case .snapshotChunk:
            let meta = try SnapshotMetadata(from: &r)
            payload = .snapshotChunk(metadata: meta, totalBytes: try r.readUInt64(), offset: try r.readUInt64(),
                                     data: try r.readBytes(), done: try r.readBool())
        case .snapshotResponse:
            payload = .snapshotResponse(snapshotIndex: try r.readUInt64(), nextOffset: try r.readUInt64(),
                                        installedIndex: try r.readUInt64())
        case .timeoutNow: payload = .timeoutNow
        case .readIndex:
            var cs: [[UInt8]] = []
            for _ in 0..<(try r.readCount(minElementSize: 4)) { cs.append(try r.readBytes()) }
            payload = .readIndex(contexts: cs)
        case .readIndexResponse:
            let index = try r.readUInt64()
            var cs: [[UInt8]] = []
            for _ in 0..<(try r.readCount(minElementSize: 4)) { cs.append(try r.readBytes()) }
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
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var r = ByteReader(bytes)
        try self.init(from: &r)
        try r.expectEnd()
    }
}
