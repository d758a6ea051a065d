import StreamModel

/// One entry of the replicated log, as stored in `raft_log` (design.md).
///
/// Concurrent proposals are coalesced into one entry (group commit), so an entry carries a
/// batch of commands and the single time the leader stamped on all of them.
public struct LogEntry: Hashable, Sendable {
    public enum Kind: UInt8, Sendable {
        /// A batch of stream commands.
        case commands = 0
        /// An empty entry a new leader appends to commit its term (Raft §5.4.2).
        case noop = 1
        /// A membership change, opaque to this layer.
        case configuration = 2
    }

    public var index: UInt64
    public var term: UInt64
    public var kind: Kind
    /// For `.commands`, an encoded `CommandBatch`; otherwise opaque.
    public var data: [UInt8]

    public init(index: UInt64, term: UInt64, kind: Kind, data: [UInt8]) {
        self.index = index
        self.term = term
        self.kind = kind
        self.data = data
    }

    /// The stored value: term, kind, data (the index is the key).
    func encodedValue() -> [UInt8] {
        var w = ByteWriter(capacity: data.count + 16)
        w.u64(term)
        w.u8(kind.rawValue)
        w.raw(data)
        return w.bytes
    }

    static func decode(index: UInt64, value: [UInt8]) throws(DecodingError) -> LogEntry {
        var r = ByteReader(value)
        let term = try r.u64()
        guard let kind = Kind(rawValue: try r.u8()) else { throw DecodingError("unknown entry kind") }
        return LogEntry(index: index, term: term, kind: kind, data: r.rest())
    }
}

/// The commands of one log entry and the leader time they are applied at.
public struct CommandBatch: Hashable, Sendable {
    /// Milliseconds since the Unix epoch, stamped by the leader, never decreasing along the log.
    public var time: Int64
    public var commands: [Command]

    public init(time: Int64, commands: [Command]) {
        self.time = time
        self.commands = commands
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 256)
        w.u8(1)  // version
        w.i64(time)
        w.varint(UInt64(commands.count))
        for command in commands { Codec.encode(command, into: &w) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> CommandBatch {
        var r = ByteReader(bytes)
        guard try r.u8() == 1 else { throw DecodingError("unknown command batch version") }
        let time = try r.i64()
        let count = try r.varint()
        guard count <= UInt64(r.remaining) else { throw DecodingError("bad command count") }
        var commands: [Command] = []
        commands.reserveCapacity(Int(count))
        for _ in 0..<count { commands.append(try Codec.decodeCommand(&r)) }
        guard r.isAtEnd else { throw DecodingError("trailing bytes after command batch") }
        return CommandBatch(time: time, commands: commands)
    }
}
