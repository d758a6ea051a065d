/// The body of a create or append, already validated by the proposer: raw bytes for byte
/// streams, or the flattened messages of a JSON body (protocol §9).
public enum Body: Hashable, Sendable {
    case bytes([UInt8])
    case json(FramedMessages)

    public static let empty = Body.bytes([])

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
    case rejected(ModelError)
}
