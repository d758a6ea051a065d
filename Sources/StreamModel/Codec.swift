import BinaryCodec

/// Binary encodings of commands (carried in log entries) and of persisted metadata.
/// Every encoding starts with a version byte so the format can evolve; decoders reject
/// versions they do not know instead of guessing. Byte strings, strings and counts carry
/// LEB128 varint lengths (`varintBlob`, `varintString`, `varintCount`), unlike Raft's
/// 4-byte lengths.
public enum Codec {
    static let version: UInt8 = 1
    /// Stream rows: version 1 held every producer's state inline; version 2 holds none,
    /// producers have rows of their own (`encode(_: ProducerState)`); version 3 (written
    /// since) adds retention and the message count (snapshots have rows of their own).
    static let streamRowVersion: UInt8 = 3
    /// Bucket rows: version 1 holds the name, creation time and stream count; version 2 adds
    /// the stored-bytes limit. A bucket without a limit is still written as version 1, so a
    /// node that predates limits reads every bucket row until a limit is actually set.
    static let bucketRowVersion: UInt8 = 2

    // MARK: Commands

    public static func encode(_ command: Command, into w: inout ByteWriter) {
        switch command {
        case .createBucket(let name):
            w.u8(1); w.varintString(name)
        case .deleteBucket(let name):
            w.u8(2); w.varintString(name)
        case .create(let c):
            w.u8(3)
            encode(c.path, into: &w)
            optionalString(c.contentType, into: &w)
            encode(c.expiry, into: &w)
            w.bool(c.closed)
            encode(c.body, into: &w)
            if let fork = c.fork {
                w.u8(1)
                encode(fork.source, into: &w)
                optionalOffset(fork.offset, into: &w)
                w.u64(fork.subOffset)
                w.varintBlob(fork.materializedPrefix)
                if let id = fork.sourceID { w.u8(1); w.u64(id) } else { w.u8(0) }
            } else {
                w.u8(0)
            }
            w.bool(c.createBucket)
            optionalString(c.ifMatch, into: &w)
        case .append(let a):
            w.u8(4)
            encode(a.path, into: &w)
            optionalString(a.contentType, into: &w)
            encode(a.body, into: &w)
            w.bool(a.close)
            if let p = a.producer {
                w.u8(1); w.varintString(p.id); w.u64(p.epoch); w.u64(p.seq)
            } else {
                w.u8(0)
            }
            optionalString(a.streamSeq, into: &w)
            optionalString(a.ifMatch, into: &w)
        case .delete(let path):
            w.u8(5); encode(path, into: &w)
        case .touch(let paths):
            w.u8(6)
            w.varint(UInt64(paths.count))
            for path in paths { encode(path, into: &w) }
        case .expire:
            w.u8(7)
        case .snapshotChunk(let c):
            w.u8(8)
            encode(c.path, into: &w)
            w.u64(c.streamID)
            if let id = c.blobID { w.u8(1); w.u64(id) } else { w.u8(0) }
            w.u32(c.index)
            w.varintBlob(c.bytes)
        case .publishSnapshot(let p):
            w.u8(9)
            encode(p.path, into: &w)
            w.u64(p.streamID)
            encode(p.offset, into: &w)
            w.varintString(p.contentType)
            w.varintBlob(p.digest)
            w.u64(p.size)
            if let id = p.blobID { w.u8(1); w.u64(id) } else { w.u8(0) }
            if let match = p.match { w.u8(1); w.varintBlob(match) } else { w.u8(0) }
        case .deleteSnapshot(let path, let offset):
            w.u8(10)
            encode(path, into: &w)
            encode(offset, into: &w)
        case .retain(let path, let target):
            w.u8(11)
            encode(path, into: &w)
            switch target {
            case .offset(let offset): w.u8(0); encode(offset, into: &w)
            case .auto: w.u8(1)
            case .manual: w.u8(2)
            }
        case .createKey(let key):
            // Tag 12 is a key without rates of its own (written before rates existed); 15
            // carries them.
            w.u8(key.rates.isEmpty ? 12 : 15)
            encode(key, into: &w)
            if !key.rates.isEmpty { encode(key.rates, into: &w) }
        case .revokeKey(let id):
            w.u8(13)
            w.varintString(id)
        case .setBucketLimit(let name, let maxStoredBytes):
            w.u8(14)
            w.varintString(name)
            if let limit = maxStoredBytes { w.u8(1); w.u64(limit) } else { w.u8(0) }
        }
    }

    public static func decodeCommand(_ r: inout ByteReader) throws(BinaryDecodingError) -> Command {
        let tagOffset = r.offset
        switch try r.u8() {
        case 1: return .createBucket(try r.varintString())
        case 2: return .deleteBucket(try r.varintString())
        case 3:
            let path = try decodePath(&r)
            let contentType = try optionalString(&r)
            let expiry = try decodeExpiry(&r)
            let closed = try r.bool()
            let body = try decodeBody(&r)
            var fork: ForkRequest?
            if try r.bool() {
                let source = try decodePath(&r)
                let offset = try optionalOffset(&r)
                let subOffset = try r.u64()
                let prefix = try r.varintBlob()
                let sourceID: UInt64? = try r.bool() ? try r.u64() : nil
                fork = ForkRequest(source: source, offset: offset, subOffset: subOffset,
                                   materializedPrefix: prefix, sourceID: sourceID)
            }
            let createBucket = try r.bool()
            let ifMatch = try optionalString(&r)
            return .create(CreateStream(path: path, contentType: contentType, expiry: expiry, closed: closed,
                                        body: body, fork: fork, createBucket: createBucket, ifMatch: ifMatch))
        case 4:
            let path = try decodePath(&r)
            let contentType = try optionalString(&r)
            let body = try decodeBody(&r)
            let close = try r.bool()
            var producer: ProducerTuple?
            if try r.bool() {
                producer = ProducerTuple(id: try r.varintString(), epoch: try r.u64(), seq: try r.u64())
            }
            let streamSeq = try optionalString(&r)
            let ifMatch = try optionalString(&r)
            return .append(AppendStream(path: path, contentType: contentType, body: body, close: close,
                                        producer: producer, streamSeq: streamSeq, ifMatch: ifMatch))
        case 5: return .delete(try decodePath(&r))
        case 6:
            let count = try r.varintCount()
            var paths: [StreamPath] = []
            for _ in 0..<count { paths.append(try decodePath(&r)) }
            return .touch(paths)
        case 7: return .expire
        case 8:
            let path = try decodePath(&r)
            let streamID = try r.u64()
            let blobID: UInt64? = try r.bool() ? try r.u64() : nil
            return .snapshotChunk(SnapshotChunk(path: path, streamID: streamID, blobID: blobID, index: try r.u32(),
                                                bytes: try r.varintBlob()))
        case 9:
            let path = try decodePath(&r)
            let streamID = try r.u64()
            let offset = try decodeOffset(&r)
            let contentType = try r.varintString()
            let digest = try r.varintBlob()
            let size = try r.u64()
            let blobID: UInt64? = try r.bool() ? try r.u64() : nil
            let match: [UInt8]? = try r.bool() ? try r.varintBlob() : nil
            return .publishSnapshot(PublishSnapshot(path: path, streamID: streamID, offset: offset, contentType: contentType,
                                                    digest: digest, size: size, blobID: blobID, match: match))
        case 10: return .deleteSnapshot(try decodePath(&r), try decodeOffset(&r))
        case 11:
            let path = try decodePath(&r)
            let targetOffset = r.offset
            switch try r.u8() {
            case 0: return .retain(path, .offset(try decodeOffset(&r)))
            case 1: return .retain(path, .auto)
            case 2: return .retain(path, .manual)
            case let tag: throw BinaryDecodingError(.unknownTag, offset: targetOffset, "retention target \(tag)")
            }
        case 12: return .createKey(try decodeKey(&r))
        case 13: return .revokeKey(try r.varintString())
        case 14:
            let name = try r.varintString()
            return .setBucketLimit(name, maxStoredBytes: try r.bool() ? try r.u64() : nil)
        case 15:
            var key = try decodeKey(&r)
            key.rates = try decodeRates(&r)
            return .createKey(key)
        case let tag: throw BinaryDecodingError(.unknownTag, offset: tagOffset, "command tag \(tag)")
        }
    }

    // MARK: Metadata rows

    public static func encode(_ meta: StreamMeta) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.u8(streamRowVersion)
        w.u64(meta.id)
        encode(meta.path, into: &w)
        w.varintString(meta.contentType)
        encode(meta.expiry, into: &w)
        w.i64(meta.createdAt); w.i64(meta.lastWriteAt); w.i64(meta.lastAccessAt)
        encode(meta.base, into: &w)
        encode(meta.tail, into: &w)
        w.bool(meta.closed)
        if let p = meta.closedBy { w.u8(1); w.varintString(p.id); w.u64(p.epoch); w.u64(p.seq) } else { w.u8(0) }
        optionalString(meta.lastStreamSeq, into: &w)
        if let fork = meta.fork {
            w.u8(1)
            w.u64(fork.sourceID)
            encode(fork.sourcePath, into: &w)
            encode(fork.offset, into: &w)
            w.bool(fork.offsetGiven)
            w.u64(fork.subOffset)
        } else {
            w.u8(0)
        }
        w.u64(meta.forkCount)
        w.bool(meta.softDeleted)
        encode(meta.retained, into: &w)
        encode(meta.trimmed, into: &w)
        w.u64(meta.messageCount)
        w.bool(meta.autoRetention)
        return w.bytes
    }

    /// Decodes a stream row of either version; a version-1 row brings its producers inline
    /// (their `lastUsedAt` is the stream's last write), a version-2 row none.
    public static func decodeStreamMeta(_ bytes: [UInt8]) throws(BinaryDecodingError) -> StreamMeta {
        var r = ByteReader(bytes)
        let rowVersion = try r.u8()
        guard (1...streamRowVersion).contains(rowVersion) else {
            throw BinaryDecodingError(.unknownVersion, offset: 0, "stream metadata version \(rowVersion)")
        }
        let id = try r.u64()
        let path = try decodePath(&r)
        let contentType = try r.varintString()
        let expiry = try decodeExpiry(&r)
        let createdAt = try r.i64(), lastWriteAt = try r.i64(), lastAccessAt = try r.i64()
        let base = try decodeOffset(&r)
        let tail = try decodeOffset(&r)
        let closed = try r.bool()
        let closedBy: ProducerTuple? = try r.bool() ? ProducerTuple(id: try r.varintString(), epoch: try r.u64(), seq: try r.u64()) : nil
        var producers: [ProducerID: ProducerState] = [:]
        if rowVersion == 1 {
            let producerCount = try r.varintCount()
            for _ in 0..<producerCount {
                let pid = ProducerID(try r.varintString())
                producers[pid] = ProducerState(epoch: try r.u64(), lastSeq: try r.u64(), lastUsedAt: lastWriteAt)
            }
        }
        let lastStreamSeq = try optionalString(&r)
        var fork: ForkOrigin?
        if try r.bool() {
            fork = ForkOrigin(sourceID: try r.u64(), sourcePath: try decodePath(&r), offset: try decodeOffset(&r),
                              offsetGiven: try r.bool(), subOffset: try r.u64())
        }
        let forkCount = try r.u64()
        let softDeleted = try r.bool()
        var meta = StreamMeta(id: id, path: path, contentType: contentType, expiry: expiry, createdAt: createdAt,
                              lastWriteAt: lastWriteAt, lastAccessAt: lastAccessAt, base: base, tail: tail, closed: closed,
                              closedBy: closedBy, producers: producers, lastStreamSeq: lastStreamSeq, fork: fork,
                              forkCount: forkCount, softDeleted: softDeleted)
        if rowVersion >= 3 {
            meta.retained = try decodeOffset(&r)
            meta.trimmed = try decodeOffset(&r)
            meta.messageCount = try r.u64()
            meta.autoRetention = try r.bool()
        } else {
            meta.trimmed = meta.base  // nothing retained or dropped; messages were not counted
        }
        return meta
    }

    /// A stream snapshot's row (its stream id and offset are in the key).
    public static func encode(_ snapshot: StreamSnapshot) -> [UInt8] {
        var w = ByteWriter(capacity: 96)
        w.u8(version)
        encode(snapshot.offset, into: &w)
        w.varintBlob(snapshot.digest)
        w.varintString(snapshot.contentType)
        w.u64(snapshot.size)
        w.u64(snapshot.blobID)
        w.u32(snapshot.chunkCount)
        w.i64(snapshot.publishedAt)
        return w.bytes
    }

    public static func decodeSnapshot(_ bytes: [UInt8]) throws(BinaryDecodingError) -> StreamSnapshot {
        var r = ByteReader(bytes)
        guard try r.u8() == version else { throw BinaryDecodingError(.unknownVersion, offset: 0, "snapshot row") }
        return StreamSnapshot(offset: try decodeOffset(&r), digest: try r.varintBlob(), contentType: try r.varintString(),
                              size: try r.u64(), blobID: try r.u64(), chunkCount: try r.u32(), publishedAt: try r.i64())
    }

    /// An API key, in a command and as its row.
    /// API key rows: version 1 has no rates; version 2 (written since) ends with them.
    static let keyRowVersion: UInt8 = 2

    public static func encode(_ key: APIKey) -> [UInt8] {
        var w = ByteWriter(capacity: 112)
        w.u8(keyRowVersion)
        encode(key, into: &w)
        encode(key.rates, into: &w)
        return w.bytes
    }

    static func encode(_ rates: KeyRates, into w: inout ByteWriter) {
        optionalU64(rates.requestsPerSecond, into: &w)
        optionalU64(rates.bytesPerSecond, into: &w)
    }

    static func decodeRates(_ r: inout ByteReader) throws(BinaryDecodingError) -> KeyRates {
        KeyRates(requestsPerSecond: try optionalU64(&r), bytesPerSecond: try optionalU64(&r))
    }

    private static func optionalU64(_ value: UInt64?, into w: inout ByteWriter) {
        w.bool(value != nil)
        if let value { w.u64(value) }
    }

    private static func optionalU64(_ r: inout ByteReader) throws(BinaryDecodingError) -> UInt64? {
        try r.bool() ? try r.u64() : nil
    }

    static func encode(_ key: APIKey, into w: inout ByteWriter) {
        w.varintString(key.id)
        w.varintString(key.name)
        w.varintBlob(key.secretHash)
        w.varint(UInt64(key.scopes.count))
        for scope in key.scopes { w.varintString(scope.description) }
        w.i64(key.createdAt)
    }

    public static func decodeKey(_ bytes: [UInt8]) throws(BinaryDecodingError) -> APIKey {
        var r = ByteReader(bytes)
        let rowVersion = try r.u8()
        guard (1...keyRowVersion).contains(rowVersion) else {
            throw BinaryDecodingError(.unknownVersion, offset: 0, "API key row version \(rowVersion)")
        }
        var key = try decodeKey(&r)
        if rowVersion >= 2 { key.rates = try decodeRates(&r) }
        return key
    }

    static func decodeKey(_ r: inout ByteReader) throws(BinaryDecodingError) -> APIKey {
        let id = try r.varintString()
        let name = try r.varintString()
        let hash = try r.varintBlob()
        let count = try r.varintCount()
        var scopes: [Scope] = []
        for _ in 0..<count {
            let at = r.offset
            let text = try r.varintString()
            guard let scope = Scope(text) else { throw BinaryDecodingError(.invalidValue, offset: at, "scope \(text)") }
            scopes.append(scope)
        }
        return APIKey(id: id, name: name, secretHash: hash, scopes: scopes, createdAt: try r.i64())
    }

    /// A snapshot upload's row (its blob id is in the key).
    public static func encode(_ upload: SnapshotUpload) -> [UInt8] {
        var w = ByteWriter(capacity: 32)
        w.u8(version)
        w.u64(upload.streamID)
        w.u32(upload.chunkCount)
        w.u64(upload.size)
        w.i64(upload.startedAt)
        return w.bytes
    }

    public static func decodeUpload(_ bytes: [UInt8]) throws(BinaryDecodingError) -> SnapshotUpload {
        var r = ByteReader(bytes)
        guard try r.u8() == version else { throw BinaryDecodingError(.unknownVersion, offset: 0, "snapshot upload row") }
        return SnapshotUpload(streamID: try r.u64(), chunkCount: try r.u32(), size: try r.u64(), startedAt: try r.i64())
    }

    /// A producer's row (its id is in the key).
    public static func encode(_ producer: ProducerState) -> [UInt8] {
        var w = ByteWriter(capacity: 25)
        w.u8(version)
        w.u64(producer.epoch)
        w.u64(producer.lastSeq)
        w.i64(producer.lastUsedAt)
        return w.bytes
    }

    public static func decodeProducer(_ bytes: [UInt8]) throws(BinaryDecodingError) -> ProducerState {
        var r = ByteReader(bytes)
        guard try r.u8() == version else { throw BinaryDecodingError(.unknownVersion, offset: 0, "producer row") }
        return ProducerState(epoch: try r.u64(), lastSeq: try r.u64(), lastUsedAt: try r.i64())
    }

    public static func encode(_ bucket: BucketMeta) -> [UInt8] {
        var w = ByteWriter(capacity: 41)
        w.u8(bucket.maxStoredBytes == nil ? version : bucketRowVersion)
        w.varintString(bucket.name)
        w.i64(bucket.createdAt)
        w.u64(bucket.streamCount)
        if let limit = bucket.maxStoredBytes { w.u8(1); w.u64(limit) }
        return w.bytes
    }

    /// Decodes a bucket row of either version; a version-1 row has no limit.
    public static func decodeBucket(_ bytes: [UInt8]) throws(BinaryDecodingError) -> BucketMeta {
        var r = ByteReader(bytes)
        let rowVersion = try r.u8()
        guard (1...bucketRowVersion).contains(rowVersion) else {
            throw BinaryDecodingError(.unknownVersion, offset: 0, "bucket metadata version \(rowVersion)")
        }
        var bucket = BucketMeta(name: try r.varintString(), createdAt: try r.i64(), streamCount: try r.u64())
        if rowVersion >= 2 {
            bucket.maxStoredBytes = try r.bool() ? try r.u64() : nil
        }
        return bucket
    }

    // MARK: Pieces

    static func encode(_ path: StreamPath, into w: inout ByteWriter) {
        w.varintString(path.bucket); w.varintString(path.name)
    }
    static func decodePath(_ r: inout ByteReader) throws(BinaryDecodingError) -> StreamPath {
        StreamPath(bucket: try r.varintString(), name: try r.varintString())
    }
    static func encode(_ offset: Offset, into w: inout ByteWriter) {
        w.u64(offset.epoch); w.u64(offset.position)
    }
    static func decodeOffset(_ r: inout ByteReader) throws(BinaryDecodingError) -> Offset {
        Offset(epoch: try r.u64(), position: try r.u64())
    }
    static func optionalOffset(_ offset: Offset?, into w: inout ByteWriter) {
        if let offset { w.u8(1); encode(offset, into: &w) } else { w.u8(0) }
    }
    static func optionalOffset(_ r: inout ByteReader) throws(BinaryDecodingError) -> Offset? {
        try r.bool() ? try decodeOffset(&r) : nil
    }
    static func optionalString(_ s: String?, into w: inout ByteWriter) {
        if let s { w.u8(1); w.varintString(s) } else { w.u8(0) }
    }
    static func optionalString(_ r: inout ByteReader) throws(BinaryDecodingError) -> String? {
        try r.bool() ? try r.varintString() : nil
    }
    static func encode(_ expiry: Expiry, into w: inout ByteWriter) {
        switch expiry {
        case .never: w.u8(0)
        case .ttl(let seconds): w.u8(1); w.u64(seconds)
        case .at(let ms): w.u8(2); w.i64(ms)
        }
    }
    static func decodeExpiry(_ r: inout ByteReader) throws(BinaryDecodingError) -> Expiry {
        let tagOffset = r.offset
        switch try r.u8() {
        case 0: return .never
        case 1: return .ttl(seconds: try r.u64())
        case 2: return .at(milliseconds: try r.i64())
        case let tag: throw BinaryDecodingError(.unknownTag, offset: tagOffset, "expiry tag \(tag)")
        }
    }
    static func encode(_ body: Body, into w: inout ByteWriter) {
        switch body {
        case .bytes(let bytes):
            w.u8(0); w.varintBlob(bytes)
        case .json(let messages):
            // Tag 1 (a list of blobs, one per message) is what earlier versions wrote.
            w.u8(2)
            w.varint(UInt64(messages.count))
            w.varintBlob(messages.bytes)
        }
    }
    static func decodeBody(_ r: inout ByteReader) throws(BinaryDecodingError) -> Body {
        let tagOffset = r.offset
        switch try r.u8() {
        case 0: return .bytes(try r.varintBlob())
        case 1:
            let count = try r.varintCount()
            var messages = FramedMessages()
            for _ in 0..<count { messages.append(try r.varintBlob()) }
            return .json(messages)
        case 2:
            let count = try r.varintCount()
            let framedOffset = r.offset
            guard let messages = FramedMessages(framed: try r.varintBlob(), count: count) else {
                throw BinaryDecodingError(.invalidValue, offset: framedOffset, "malformed framed JSON messages")
            }
            return .json(messages)
        case let tag: throw BinaryDecodingError(.unknownTag, offset: tagOffset, "body tag \(tag)")
        }
    }
}
