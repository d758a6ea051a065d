import BinaryCodec
import Raft
import Storage
import StreamModel

/// What nodes send each other over the peer transport: Raft's messages, and writes a
/// follower forwards to the leader (design.md "Write path"; docs/cluster.md).
public enum PeerFrame: Sendable {
    /// A Raft message.
    case raft(Message)
    /// Commands a follower's clients sent, to the leader of `term`; that leader proposes them
    /// only in that term, and any other node or term rejects them. Their tags name the
    /// forwarding node, which answers its clients from its own apply loop. The term is the
    /// fence that makes re-sending safe: once the forwarding node applies an entry of a later
    /// term without having applied a command, the command never will be (docs/cluster.md).
    case forward(term: UInt64, [TaggedCommand])
    /// The leader appended forwarded commands at these log positions. Once the forwarding node
    /// applies an index whose entry has another term, the command there was lost, never applied.
    case forwardAccepted([(seq: UInt64, position: LogPosition)])
    /// The receiver could not propose the forwarded commands: not the leader (`leaderHint`, or
    /// 0 when unknown) or too much uncommitted. Nothing was appended.
    case forwardRejected(seqs: [UInt64], reason: ForwardRejection, leaderHint: NodeID)
    /// A node with a new data directory asks whether the cluster already exists before it
    /// bootstraps one (docs/state-transfer.md §5). `incarnation` is the asker's (0: unknown,
    /// from a node that predates the field).
    case clusterQuery(incarnation: UInt64)
    /// The answer: the sender's cluster, whether that cluster is established for the asker,
    /// and the sender's incarnation (0: unknown). Established means the sender is a member that
    /// has seen an entry committed, and did not count the asker's incarnation as new when it
    /// bootstrapped. One established answer means the asker lost its data and must be
    /// replaced instead of bootstrapping.
    case clusterInfo(clusterID: ClusterID, established: Bool, incarnation: UInt64)
    /// An operator's membership change for the leader (api.md §3), numbered by the sender.
    /// `replyAddress` is the sender's own peer address when the receiver may not know it (a
    /// node that is not a member yet), so the receiver can dial back; empty otherwise.
    case membershipRequest(seq: UInt64, request: MembershipRequest, replyAddress: String)
    /// The answer to the sender's `membershipRequest` `seq`.
    case membershipResponse(seq: UInt64, answer: MembershipAnswer)

    public enum ForwardRejection: UInt8, Sendable {
        case notLeader = 1
        case busy = 2
    }

    /// The protocol version carried in every frame; a peer speaking another version is refused.
    /// 2: the hello carries the cluster id and incarnation; cluster queries. (Cluster queries
    /// and answers later gained a trailing incarnation; a frame without it decodes with 0.)
    public static let protocolVersion: UInt8 = 2

    private enum Kind: UInt8 {
        case raft = 1, forward, forwardAccepted, forwardRejected, membershipRequest, membershipResponse
        case clusterQuery = 20, clusterInfo
    }

    /// Version byte, kind byte, body. The transport adds the length prefix.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.u8(Self.protocolVersion)
        switch self {
        case .raft(let message):
            w.u8(Kind.raft.rawValue)
            w.raw(message.encoded())
        case .forward(let term, let commands):
            w.u8(Kind.forward.rawValue)
            w.varint(term)
            w.varint(UInt64(commands.count))
            for c in commands {
                w.varint(c.tag.origin)
                w.varint(c.tag.seq)
                w.varintBlob(c.command)
            }
        case .forwardAccepted(let accepted):
            w.u8(Kind.forwardAccepted.rawValue)
            w.varint(UInt64(accepted.count))
            for a in accepted {
                w.varint(a.seq)
                w.varint(a.position.index)
                w.varint(a.position.term)
            }
        case .forwardRejected(let seqs, let reason, let hint):
            w.u8(Kind.forwardRejected.rawValue)
            w.u8(reason.rawValue)
            w.varint(hint)
            w.varint(UInt64(seqs.count))
            for s in seqs { w.varint(s) }
        case .clusterQuery(let incarnation):
            w.u8(Kind.clusterQuery.rawValue)
            w.u64(incarnation)
        case .clusterInfo(let clusterID, let established, let incarnation):
            w.u8(Kind.clusterInfo.rawValue)
            clusterID.encode(into: &w)
            w.u8(established ? 1 : 0)
            w.u64(incarnation)
        case .membershipRequest(let seq, let request, let replyAddress):
            w.u8(Kind.membershipRequest.rawValue)
            w.varint(seq)
            request.encode(into: &w)
            w.varintString(replyAddress)
        case .membershipResponse(let seq, let answer):
            w.u8(Kind.membershipResponse.rawValue)
            w.varint(seq)
            answer.encode(into: &w)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(BinaryDecodingError) {
        var r = ByteReader(bytes)
        guard try r.u8() == Self.protocolVersion else { throw BinaryDecodingError(.unknownVersion, offset: 0, "peer protocol") }
        guard let kind = Kind(rawValue: try r.u8()) else { throw BinaryDecodingError(.unknownTag, offset: 1, "peer frame kind") }
        switch kind {
        case .raft:
            self = .raft(try Message(from: &r))
        case .forward:
            let term = try r.varint()
            let count = try r.varintCount()
            var commands: [TaggedCommand] = []
            for _ in 0..<count {
                let tag = ProposalTag(origin: try r.varint(), seq: try r.varint())
                commands.append(TaggedCommand(tag: tag, command: try r.varintBlob()))
            }
            self = .forward(term: term, commands)
        case .forwardAccepted:
            let count = try r.varintCount()
            var accepted: [(seq: UInt64, position: LogPosition)] = []
            for _ in 0..<count {
                let seq = try r.varint()
                accepted.append((seq, LogPosition(index: try r.varint(), term: try r.varint())))
            }
            self = .forwardAccepted(accepted)
        case .forwardRejected:
            let reason = ForwardRejection(rawValue: try r.u8()) ?? .busy
            let hint = try r.varint()
            let count = try r.varintCount()
            var seqs: [UInt64] = []
            for _ in 0..<count { seqs.append(try r.varint()) }
            self = .forwardRejected(seqs: seqs, reason: reason, leaderHint: hint)
        case .clusterQuery:
            self = .clusterQuery(incarnation: r.isAtEnd ? 0 : try r.u64())
        case .clusterInfo:
            let clusterID = try ClusterID(from: &r)
            let established = try r.u8() != 0
            self = .clusterInfo(clusterID: clusterID, established: established, incarnation: r.isAtEnd ? 0 : try r.u64())
        case .membershipRequest:
            let seq = try r.varint()
            let request = try MembershipRequest(from: &r)
            self = .membershipRequest(seq: seq, request: request, replyAddress: try MembershipRequest.address(&r))
        case .membershipResponse:
            let seq = try r.varint()
            self = .membershipResponse(seq: seq, answer: try MembershipAnswer(from: &r))
        }
        try r.expectEnd()
    }
}

/// How the driver reaches its peers. The NIO implementation lives in the `Cluster` target;
/// tests may pass their own. `send` must not block: it queues (bounded) and returns.
public protocol PeerTransport: AnyObject, Sendable {
    func send(_ frames: [PeerFrame], to peer: NodeID)
    /// The peers to keep connections to, by id (`HOST:PORT`), as membership changes teach the
    /// driver (docs/cluster.md "Membership changes"): dial the new ones and ones whose address
    /// changed, close the ones no longer listed. This node's own id may be listed; it is
    /// ignored. Called on the Raft thread: it must not block.
    func setPeers(_ peers: [NodeID: String])
}
