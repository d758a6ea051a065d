import BinaryCodec
import Raft

/// The context the driver attaches to a configuration entry (``ConfigurationEntry/context``):
/// which member the change is about, the peer address others reach it at, and its
/// incarnation (0 until cluster identity exists, docs/state-transfer.md §5). Every server
/// learns a new member's address from the log entry that adds it.
public struct MembershipContext: Sendable, Hashable {
    public var member: NodeID
    /// `HOST:PORT`; empty when the change carries no address (a removal, a promotion).
    public var address: String
    public var incarnation: UInt64

    public init(member: NodeID, address: String, incarnation: UInt64 = 0) {
        self.member = member
        self.address = address
        self.incarnation = incarnation
    }

    static let version: UInt8 = 1
    /// Longest accepted address (a DNS name, a colon and a port).
    public static let maxAddressBytes = 300

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 16 + address.utf8.count)
        w.u8(Self.version)
        w.varint(member)
        w.varintString(address)
        w.varint(incarnation)
        return w.bytes
    }

    /// Decodes a context from the log; anything else (another version, trailing bytes, an
    /// address too long) throws, and the driver then ignores the context.
    public init(decoding bytes: [UInt8]) throws(BinaryDecodingError) {
        var r = ByteReader(bytes)
        guard try r.u8() == Self.version else { throw BinaryDecodingError(.unknownVersion, offset: 0, "membership context") }
        member = try r.varint()
        let raw = try r.varintBlob()
        guard raw.count <= Self.maxAddressBytes, let text = String(validating: raw, as: UTF8.self) else {
            throw BinaryDecodingError(.invalidValue, offset: r.offset, "membership context address")
        }
        address = text
        incarnation = try r.varint()
        try r.expectEnd()
    }
}

/// An operator's membership change (api.md §3), as a node hands it to the leader.
public struct MembershipRequest: Sendable, Hashable {
    public enum Action: UInt8, Sendable {
        /// Add `member` at `address` as a learner; the leader promotes it once caught up.
        case add = 1
        /// Remove `member` (the leader included: it hands leadership over once the change commits).
        case remove = 2
        /// Remove `member`, then add it again at `address` as a learner (a node that lost its disk).
        case replace = 3
        /// A node that lost its data asks to be admitted again as `incarnation`: the leader
        /// replaces any other incarnation of the id (removal first), then adds this one as a
        /// learner, and answers `accepted` or `unchanged` once this incarnation is a member
        /// (docs/state-transfer.md §5).
        case rejoin = 4
    }

    public var action: Action
    public var member: NodeID
    /// The member's peer address (`add`, `replace`, `rejoin`); empty for `remove`.
    public var address: String
    /// The data directory incarnation of the member (`rejoin`; 0 otherwise).
    public var incarnation: UInt64

    public init(action: Action, member: NodeID, address: String = "", incarnation: UInt64 = 0) {
        self.action = action
        self.member = member
        self.address = address
        self.incarnation = incarnation
    }
}

/// The leader's answer to a ``MembershipRequest``.
public struct MembershipAnswer: Sendable, Hashable {
    public enum Outcome: UInt8, Sendable {
        /// The change was appended to the leader's log (`index`); it takes effect as it
        /// replicates (thesis §4.1).
        case accepted = 1
        /// Nothing to do: the member already exists with this address.
        case unchanged = 2
        /// Another change is uncommitted, or a learner still awaits promotion.
        case inProgress = 3
        /// No such member.
        case notFound = 4
        /// The id is a member with another address (without `replace`), or the change would
        /// leave no voter.
        case conflict = 5
        /// The request is malformed (id 0, a bad address).
        case invalid = 6
        /// The receiver does not lead (`leaderHint`, 0 when unknown); the requester asks again.
        case notLeader = 7
        /// The leader cannot take a change right now (not yet committed an entry of its term,
        /// transferring leadership, shutting down); the requester asks again.
        case unavailable = 8
    }

    public var outcome: Outcome
    public var member: NodeID
    public var address: String
    /// Whether the member votes after the change.
    public var voter: Bool
    /// Where the change was appended (`accepted`), else 0.
    public var index: UInt64
    public var leaderHint: NodeID
    public var message: String

    public init(_ outcome: Outcome, member: NodeID, address: String = "", voter: Bool = false, index: UInt64 = 0,
                leaderHint: NodeID = 0, message: String = "") {
        self.outcome = outcome
        self.member = member
        self.address = address
        self.voter = voter
        self.index = index
        self.leaderHint = leaderHint
        self.message = message
    }

    /// Outcomes the requesting node retries (toward the leader) until its deadline.
    var isRetryable: Bool { outcome == .notLeader || outcome == .unavailable }
}

/// What ``Node/addMember(id:address:replace:)`` and ``Node/removeMember(id:)`` return when the
/// leader took the request.
public struct MemberChange: Sendable, Hashable {
    public var member: NodeID
    public var address: String
    /// Whether the member votes once this change is in effect (an added member is a learner
    /// until the leader promotes it).
    public var voter: Bool
    /// The leader's log index of the change; 0 when nothing changed.
    public var index: UInt64
    /// `false` when the member already existed as asked (an idempotent repeat).
    public var changed: Bool
}

extension MembershipRequest {
    func encode(into w: inout ByteWriter) {
        w.u8(action.rawValue)
        w.varint(member)
        w.varintString(address)
        if action == .rejoin { w.varint(incarnation) }
    }

    init(from r: inout ByteReader) throws(BinaryDecodingError) {
        guard let action = Action(rawValue: try r.u8()) else {
            throw BinaryDecodingError(.unknownTag, offset: r.offset, "membership action")
        }
        let member = try r.varint()
        let address = try Self.address(&r)
        self.init(action: action, member: member, address: address, incarnation: action == .rejoin ? try r.varint() : 0)
    }

    static func address(_ r: inout ByteReader) throws(BinaryDecodingError) -> String {
        let raw = try r.varintBlob()
        guard raw.count <= MembershipContext.maxAddressBytes, let text = String(validating: raw, as: UTF8.self) else {
            throw BinaryDecodingError(.invalidValue, offset: r.offset, "peer address")
        }
        return text
    }
}

extension MembershipAnswer {
    func encode(into w: inout ByteWriter) {
        w.u8(outcome.rawValue)
        w.varint(member)
        w.varintString(address)
        w.bool(voter)
        w.varint(index)
        w.varint(leaderHint)
        w.varintString(String(message.prefix(1000)))
    }

    init(from r: inout ByteReader) throws(BinaryDecodingError) {
        let outcome = Outcome(rawValue: try r.u8()) ?? .unavailable
        let member = try r.varint()
        let address = try MembershipRequest.address(&r)
        let voter = try r.bool()
        let index = try r.varint()
        let hint = try r.varint()
        let message = String(decoding: try r.varintBlob(), as: UTF8.self)
        self.init(outcome, member: member, address: address, voter: voter, index: index, leaderHint: hint, message: message)
    }
}
