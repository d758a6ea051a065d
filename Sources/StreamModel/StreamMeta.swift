/// An idempotent producer's state on one stream (protocol §4.1).
public struct ProducerState: Hashable, Sendable {
    public var epoch: UInt64
    public var lastSeq: UInt64
    /// Leader time of the producer's last accepted write: producers idle for longer than
    /// `ProducerLimits.idleExpiryMilliseconds` are forgotten.
    public var lastUsedAt: Int64

    public init(epoch: UInt64, lastSeq: UInt64, lastUsedAt: Int64) {
        self.epoch = epoch
        self.lastSeq = lastSeq
        self.lastUsedAt = lastUsedAt
    }

    /// Whether the producer has been idle past `ProducerLimits.idleExpiryMilliseconds` at `now`.
    public func isIdle(at now: Int64) -> Bool {
        let (deadline, overflow) = lastUsedAt.addingReportingOverflow(ProducerLimits.idleExpiryMilliseconds)
        return !overflow && now >= deadline
    }
}

/// A producer's id as a key: equal, hashed and ordered by its UTF-8 bytes (api.md §1), so
/// `Producer-Id`s that differ in bytes are different producers whatever Unicode says.
public struct ProducerID: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let value: String

    public init(_ value: String) { self.value = value }
    public init(stringLiteral value: String) { self.value = value }

    public static func == (a: ProducerID, b: ProducerID) -> Bool { Bytewise.equal(a.value, b.value) }
    public func hash(into hasher: inout Hasher) { Bytewise.hash(value, into: &hasher) }
    public static func < (a: ProducerID, b: ProducerID) -> Bool { Bytewise.less(a.value, b.value) }
    public var description: String { value }
}

/// Bounds on idempotent-producer state, constants of the replicated state machine (every
/// replica must decide alike, so they are not per-node settings). docs/architecture.md
/// "Producers" documents them.
public enum ProducerLimits {
    /// Producers remembered per stream. A new producer beyond it is refused
    /// (`producer_limit_exceeded`, 409) unless an idle producer can be forgotten first.
    public static let maxPerStream = 1024
    /// A producer with no accepted write for this long is forgotten: its next write must
    /// start again at `Producer-Seq` 0, like a new producer (7 days).
    public static let idleExpiryMilliseconds: Int64 = 7 * 24 * 3600 * 1000
    /// The largest `Producer-Epoch` and `Producer-Seq` (2^53 − 1, what JSON clients can hold).
    public static let maxNumber: UInt64 = (1 << 53) - 1
}

/// Where a fork came from (protocol §3.1).
public struct ForkOrigin: Hashable, Sendable {
    /// The incarnation id of the source stream.
    public var sourceID: UInt64
    /// The source's path, for idempotent re-create comparison.
    public var sourcePath: StreamPath
    /// The divergence offset: data below it is read from the source.
    public var offset: Offset
    /// Whether `Stream-Fork-Offset` was given explicitly (only then is it compared on re-create).
    public var offsetGiven: Bool
    public var subOffset: UInt64
}

/// The replicated metadata of one stream incarnation.
public struct StreamMeta: Hashable, Sendable {
    /// Unique per incarnation: a stream deleted and re-created at the same path gets a new id,
    /// so its payload keys, ETags and fork references never collide with the old one's.
    public var id: UInt64
    public var path: StreamPath
    /// Exactly as given at creation (echoed unchanged, protocol §2.2).
    public var contentType: String
    public var expiry: Expiry
    public var createdAt: Int64
    public var lastWriteAt: Int64
    /// The last read or write that renewed a sliding TTL.
    public var lastAccessAt: Int64
    /// The offset where this stream's own data starts (the fork offset; zero otherwise).
    public var base: Offset
    /// The next offset: one past the last stored unit.
    public var tail: Offset
    public var closed: Bool
    /// The producer tuple whose request closed the stream, so its retry is a duplicate.
    public var closedBy: ProducerTuple?
    public var producers: [ProducerID: ProducerState]
    /// The last `Stream-Seq`, compared bytewise (scoped per stream).
    public var lastStreamSeq: String?
    public var fork: ForkOrigin?
    /// Live forks that read through this stream.
    public var forkCount: UInt64
    /// Deleted (or expired) while forks still reference it: its URL answers 410.
    public var softDeleted: Bool
    /// Reads below this offset answer 410 (retention, docs/stream-snapshots.md). Never past
    /// the latest snapshot's offset.
    public var retained: Offset = .zero
    /// How far this stream's own stored units have been dropped. It trails `retained` while
    /// forks read through this stream (a fork keeps the prefix it inherits).
    public var trimmed: Offset = .zero
    /// Messages appended to this stream's own data, ever: appends for a byte stream, JSON
    /// messages for a JSON stream (a fork's materialized sub-offset prefix counts).
    public var messageCount: UInt64 = 0
    /// Retention follows every snapshot published from now on (`PUT …/retention/auto`).
    public var autoRetention = false
    /// Published snapshots, oldest offset first. Kept in rows of their own (like producers),
    /// so an append does not rewrite them.
    public var snapshots: [StreamSnapshot] = []

    /// The most recent snapshot (the one at the highest offset).
    public var latestSnapshot: StreamSnapshot? { snapshots.last }

    public var isJSON: Bool { MediaType.isJSON(contentType) }

    /// The stream's current entity tag, the value `If-Match` is compared with (api.md §2):
    /// it changes with every append and with closure.
    public var etag: String { StreamMeta.etag(id: id, start: nil, end: tail, closed: closed) }

    /// `"<id>:<start or -1>:<end>[:c]"`, quoted (protocol §11).
    public static func etag(id: UInt64, start: Offset?, end: Offset, closed: Bool) -> String {
        "\"\(id):\(start?.description ?? "-1"):\(end)\(closed ? ":c" : "")\""
    }

    /// Whether the stream has expired at `now` (milliseconds).
    public func isExpired(at now: Int64) -> Bool {
        switch expiry {
        case .never:
            return false
        case .ttl(let seconds):
            guard seconds <= UInt64(Int64.max / 1000) else { return false }
            let (deadline, overflow) = lastAccessAt.addingReportingOverflow(Int64(seconds) * 1000)
            return !overflow && now >= deadline
        case .at(let deadline):
            return now >= deadline
        }
    }
}

/// A bucket (api.md §2).
public struct BucketMeta: Hashable, Sendable {
    public var name: String
    public var createdAt: Int64
    /// Streams in the bucket, soft-deleted ones included.
    public var streamCount: UInt64
    /// The most bytes the bucket may store (`StreamModel.storedBytes(ofBucket:)`); a write
    /// that would pass it is refused with `bucket_quota_exceeded`. `nil`: no limit
    /// (docs/access-control.md "Bucket storage limit").
    public var maxStoredBytes: UInt64? = nil
}
