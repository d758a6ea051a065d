/// The body of a create or append, already validated by the proposer: raw bytes for byte
/// streams, or the flattened messages of a JSON body (protocol §9).
public enum Body: Hashable, Sendable {
    case bytes([UInt8])
    case json(FramedMessages)

    public static let empty = Body.bytes([])

    /// Messages the body adds to a stream: one per append for bytes, each JSON message.
    public var messageCount: UInt64 {
        switch self {
        case .bytes(let bytes): bytes.isEmpty ? 0 : 1
        case .json(let messages): UInt64(messages.count)
        }
    }

    public var isEmpty: Bool {
        switch self {
        case .bytes(let bytes): bytes.isEmpty
        case .json(let messages): messages.isEmpty
        }
    }
}

/// JSON messages in the form a stream stores them (`StoredUnit`): each message's bytes
/// behind a 4-byte big-endian length, all in one buffer. One buffer instead of an array per
/// message keeps a body of many tiny messages (`[0,0,0,…]`) within a small multiple of its
/// own size, and the buffer is the stored unit as is, so applying it copies nothing.
public struct FramedMessages: Hashable, Sendable, ExpressibleByArrayLiteral {
    /// The framed bytes.
    public private(set) var bytes: [UInt8] = []
    /// The number of messages.
    public private(set) var count = 0

    public init() {}

    public init(_ messages: [[UInt8]]) {
        bytes.reserveCapacity(messages.reduce(0) { $0 + 4 + $1.count })
        for message in messages { append(message) }
    }

    public init(arrayLiteral messages: [UInt8]...) { self.init(messages) }

    /// Takes `bytes` as framed messages if they are exactly `count` well-formed frames (the
    /// check a decoder of hostile input needs), else `nil`.
    public init?(framed bytes: [UInt8], count: Int) {
        var frames = 0
        let intact = bytes.withUnsafeBytes { raw in
            StoredUnit.forEachFrame(raw) { _, _ in
                frames += 1
                return true
            }
        }
        guard intact, frames == count else { return nil }
        self.bytes = bytes
        self.count = count
    }

    public mutating func reserveCapacity(_ n: Int) { bytes.reserveCapacity(n) }

    public mutating func append(_ message: some Collection<UInt8>) {
        StoredUnit.appendFramed(message, to: &bytes)
        count += 1
    }

    public var isEmpty: Bool { count == 0 }

    /// The bytes the messages take without their frames.
    public var contentBytes: Int { bytes.count - 4 * count }

    /// Calls `body` with each message's bytes, in order, without allocating.
    public func forEach(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { raw in
            try StoredUnit.forEachFrame(raw) { _, message in
                try body(UnsafeRawBufferPointer(rebasing: raw[message]))
                return true
            }
        }
    }

    /// Each message's bytes, in order (for tests and diagnostics; allocates per message).
    public var messages: [[UInt8]] {
        bytes.withUnsafeBytes { raw in (StoredUnit.jsonMessages(raw) ?? []).map { Array(raw[$0.body]) } }
    }
}

/// An idempotent producer's tuple (protocol §4.1). The id compares by its bytes.
public struct ProducerTuple: Hashable, Sendable {
    public var id: String
    public var epoch: UInt64
    public var seq: UInt64

    public init(id: String, epoch: UInt64, seq: UInt64) {
        self.id = id
        self.epoch = epoch
        self.seq = seq
    }

    public var key: ProducerID { ProducerID(id) }

    public static func == (a: ProducerTuple, b: ProducerTuple) -> Bool {
        a.key == b.key && a.epoch == b.epoch && a.seq == b.seq
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(key)
        hasher.combine(epoch)
        hasher.combine(seq)
    }
}

/// How a stream expires (protocol §10).
public enum Expiry: Hashable, Sendable {
    case never
    /// A sliding window in seconds, renewed by reads and writes.
    case ttl(seconds: UInt64)
    /// An absolute deadline, milliseconds since the Unix epoch.
    case at(milliseconds: Int64)
}

/// A fork request (protocol §3.1), resolved by the proposer.
public struct ForkRequest: Hashable, Sendable {
    public var source: StreamPath
    /// `Stream-Fork-Offset`, or `nil` for the source's tail.
    public var offset: Offset?
    /// `Stream-Fork-Sub-Offset`; 0 is the same as absent.
    public var subOffset: UInt64
    /// For `subOffset > 0`: the stored form of the first `subOffset` bytes or messages of the
    /// source's data unit at `offset`, read by the proposer. Immutable data, so any replica
    /// reading it would get the same bytes.
    public var materializedPrefix: [UInt8]
    /// The incarnation of the source the proposer read, so a source deleted and re-created in
    /// between is detected rather than forked with stale bytes.
    public var sourceID: UInt64?

    public init(source: StreamPath, offset: Offset?, subOffset: UInt64 = 0,
                materializedPrefix: [UInt8] = [], sourceID: UInt64? = nil) {
        self.source = source
        self.offset = offset
        self.subOffset = subOffset
        self.materializedPrefix = materializedPrefix
        self.sourceID = sourceID
    }
}

/// `PUT` of a stream (protocol §3).
public struct CreateStream: Hashable, Sendable {
    public var path: StreamPath
    /// `nil` when the request had no Content-Type: default for a new stream, inherit for a fork.
    public var contentType: String?
    public var expiry: Expiry
    public var closed: Bool
    public var body: Body
    public var fork: ForkRequest?
    /// Buckets named by `/v1/stream/` paths are created on first use (api.md §1).
    public var createBucket: Bool
    public var ifMatch: String?

    public init(path: StreamPath, contentType: String? = nil, expiry: Expiry = .never, closed: Bool = false,
                body: Body = .empty, fork: ForkRequest? = nil, createBucket: Bool = false, ifMatch: String? = nil) {
        self.path = path
        self.contentType = contentType
        self.expiry = expiry
        self.closed = closed
        self.body = body
        self.fork = fork
        self.createBucket = createBucket
        self.ifMatch = ifMatch
    }
}

/// `POST` to a stream: append, close, or append-and-close (protocol §4, §5).
public struct AppendStream: Hashable, Sendable {
    public var path: StreamPath
    /// The request's Content-Type; ignored for close-only requests.
    public var contentType: String?
    public var body: Body
    public var close: Bool
    public var producer: ProducerTuple?
    public var streamSeq: String?
    public var ifMatch: String?

    public init(path: StreamPath, contentType: String? = nil, body: Body, close: Bool = false,
                producer: ProducerTuple? = nil, streamSeq: String? = nil, ifMatch: String? = nil) {
        self.path = path
        self.contentType = contentType
        self.body = body
        self.close = close
        self.producer = producer
        self.streamSeq = streamSeq
        self.ifMatch = ifMatch
    }
}

/// Every state change of the service. Commands are replicated through the log and applied
/// in log order with the time the leader stamped on their entry, so applying the same
/// commands always gives the same state and results.
public enum Command: Hashable, Sendable {
    case createBucket(String)
    case deleteBucket(String)
    case create(CreateStream)
    case append(AppendStream)
    case delete(StreamPath)
    /// Renews the sliding TTL of streams that were read (protocol §10).
    case touch([StreamPath])
    /// Removes (or soft-deletes) every stream whose expiry has passed.
    case expire
    /// One chunk of a stream snapshot being uploaded (docs/stream-snapshots.md).
    case snapshotChunk(SnapshotChunk)
    /// `PUT /ds/{b}/{s}/snapshot/{offset}`: publishes an uploaded snapshot.
    case publishSnapshot(PublishSnapshot)
    /// `DELETE /ds/{b}/{s}/snapshot/{offset}`
    case deleteSnapshot(StreamPath, Offset)
    /// `PUT /ds/{b}/{s}/retention/{offset|auto|manual}`
    case retain(StreamPath, RetentionTarget)
    /// `POST /admin/v1/keys` (docs/access-control.md): the key with its secret's hash.
    case createKey(APIKey)
    /// `DELETE /admin/v1/keys/{id}`
    case revokeKey(String)
    /// `PUT /admin/v1/buckets/{bucket}/limits`: sets (or, with `nil`, clears) the most bytes
    /// the bucket may store (docs/access-control.md "Bucket storage limit").
    case setBucketLimit(String, maxStoredBytes: UInt64?)
}

/// One chunk of a snapshot upload. The first chunk (`blobID == nil`) starts an upload and
/// the model assigns its blob id; later chunks name it and their position.
public struct SnapshotChunk: Hashable, Sendable {
    public var path: StreamPath
    /// The stream incarnation the proposer resolved, so a stream re-created in between is
    /// not given another incarnation's snapshot.
    public var streamID: UInt64
    public var blobID: UInt64?
    public var index: UInt32
    public var bytes: [UInt8]

    public init(path: StreamPath, streamID: UInt64, blobID: UInt64?, index: UInt32, bytes: [UInt8]) {
        self.path = path
        self.streamID = streamID
        self.blobID = blobID
        self.index = index
        self.bytes = bytes
    }
}

/// Publishes a snapshot whose bytes were uploaded as blob `blobID` (nil for an empty one).
public struct PublishSnapshot: Hashable, Sendable {
    public var path: StreamPath
    public var streamID: UInt64
    public var offset: Offset
    public var contentType: String
    /// SHA-256 of the bytes, computed by the proposer from the request body.
    public var digest: [UInt8]
    public var size: UInt64
    public var blobID: UInt64?
    /// `Stream-Snapshot-Match`: publish only if the latest snapshot has this digest.
    public var match: [UInt8]?

    public init(path: StreamPath, streamID: UInt64, offset: Offset, contentType: String, digest: [UInt8],
                size: UInt64, blobID: UInt64?, match: [UInt8]? = nil) {
        self.path = path
        self.streamID = streamID
        self.offset = offset
        self.contentType = contentType
        self.digest = digest
        self.size = size
        self.blobID = blobID
        self.match = match
    }
}

/// What `PUT …/retention/{target}` asks for.
public enum RetentionTarget: Hashable, Sendable {
    /// Drop payloads before this offset (at most the latest snapshot's offset).
    case offset(Offset)
    /// Retain up to the latest snapshot now and after every later publish.
    case auto
    /// Stop following snapshots (what is already dropped stays dropped).
    case manual
}

/// The outcome of an append or close that was not rejected.
public struct AppendOutcome: Hashable, Sendable {
    /// The tail after the command.
    public var nextOffset: Offset
    public var closed: Bool
    /// The producer's epoch and highest accepted seq, echoed when producer headers were sent.
    public var producerEpoch: UInt64?
    public var producerSeq: UInt64?
    /// A producer retry of data already accepted: nothing was written.
    public var duplicate: Bool
    /// Whether bytes were appended (false for close-only and duplicates).
    public var wroteData: Bool
}

/// The outcome of a create that was not rejected.
public struct CreateOutcome: Hashable, Sendable {
    /// `true` for 201, `false` for an idempotent re-create (200).
    public var created: Bool
    public var contentType: String
    public var nextOffset: Offset
    public var closed: Bool
}

/// What applying one command produced.
public enum CommandResult: Hashable, Sendable {
    case bucketCreated(created: Bool)
    case bucketDeleted
    case created(CreateOutcome)
    case appended(AppendOutcome)
    case deleted
    case touched
    case expired(count: Int)
    /// A snapshot chunk was stored in blob `blobID`.
    case snapshotChunkStored(blobID: UInt64)
    /// A snapshot is published (`duplicate`: the same bytes were already there).
    case snapshotPublished(StreamSnapshot, duplicate: Bool)
    case snapshotDeleted
    /// The stream's retained offset after the command, and whether it follows snapshots.
    case retained(Offset, auto: Bool)
    case keyCreated
    case keyRevoked
    /// A bucket's stored-bytes limit is set (or cleared).
    case bucketLimitSet
    case rejected(ModelError)
}
