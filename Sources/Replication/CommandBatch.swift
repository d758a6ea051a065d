import BinaryCodec
import Storage
import StreamModel

/// Which node's client waits for a command, and that node's sequence number for it.
///
/// Every node applies every command and computes the same result, so the node a client is
/// connected to answers it from its own apply loop: a write sent to a follower is answered by
/// that follower, after its own state has the write (read-your-writes on any node).
public struct ProposalTag: Hashable, Sendable {
    public var origin: UInt64
    public var seq: UInt64

    public init(origin: UInt64, seq: UInt64) {
        self.origin = origin
        self.seq = seq
    }
}

/// A command encoded once, by the node that received it, with its tag.
public struct TaggedCommand: Sendable, Hashable {
    public var tag: ProposalTag
    /// `Codec.encode(command)`.
    public var command: [UInt8]

    public init(tag: ProposalTag, command: [UInt8]) {
        self.tag = tag
        self.command = command
    }
}

/// The data of one `.normal` Raft entry: the commands a leader coalesced into it (group
/// commit) and the single time it stamped on all of them.
public struct CommandBatch: Sendable {
    /// Milliseconds since the Unix epoch, stamped by the leader, never decreasing along the log.
    public var time: Int64
    public var commands: [(tag: ProposalTag, command: Command)]

    public init(time: Int64, commands: [(tag: ProposalTag, command: Command)]) {
        self.time = time
        self.commands = commands
    }

    static let version: UInt8 = 2

    /// Encodes a batch from commands that are already encoded.
    public static func encode(time: Int64, _ commands: [TaggedCommand]) -> [UInt8] {
        var w = ByteWriter(capacity: 16 + commands.reduce(0) { $0 + $1.command.count + 12 })
        w.u8(version)
        w.i64(time)
        w.varint(UInt64(commands.count))
        for c in commands {
            w.varint(c.tag.origin)
            w.varint(c.tag.seq)
            w.raw(c.command)
        }
        return w.bytes
    }

    public func encoded() -> [UInt8] {
        Self.encode(time: time, commands.map { TaggedCommand(tag: $0.tag, command: Codec.encoded($0.command)) })
    }

    public static func decode(_ bytes: [UInt8]) throws(BinaryDecodingError) -> CommandBatch {
        var r = ByteReader(bytes)
        guard try r.u8() == version else { throw BinaryDecodingError(.unknownVersion, offset: 0, "command batch") }
        let time = try r.i64()
        let count = try r.varintCount()
        var commands: [(tag: ProposalTag, command: Command)] = []
        commands.reserveCapacity(count)
        for _ in 0..<count {
            let tag = ProposalTag(origin: try r.varint(), seq: try r.varint())
            commands.append((tag, try Codec.decodeCommand(&r)))
        }
        try r.expectEnd()
        return CommandBatch(time: time, commands: commands)
    }

    /// The leader time of an encoded batch, read without decoding the commands.
    static func time(of bytes: [UInt8]) -> Int64? {
        guard bytes.count >= 9, bytes[0] == version else { return nil }
        var r = ByteReader(bytes, at: 1)
        return try? r.i64()
    }
}

extension Codec {
    /// `command` encoded on its own.
    public static func encoded(_ command: Command) -> [UInt8] {
        var w = ByteWriter(capacity: 64 + command.approximateSize)
        encode(command, into: &w)
        return w.bytes
    }
}

extension Command {
    /// Roughly how many bytes the command adds to an entry, for entry size limits.
    var approximateSize: Int {
        switch self {
        case .append(let a): 64 + a.body.byteCount
        case .create(let c): 128 + c.body.byteCount + (c.fork?.materializedPrefix.count ?? 0)
        case .touch(let paths): 16 + paths.count * 32
        default: 64
        }
    }
}

extension Body {
    var byteCount: Int {
        switch self {
        case .bytes(let b): b.count
        case .json(let messages): messages.bytes.count
        }
    }
}
