import BinaryCodec

/// The id of a cluster: 128 bits, shown as 32 hex digits. Nodes refuse peers of another
/// cluster, so two clusters that share addresses (a copied config, a stale pod) never mix.
public struct ClusterID: Sendable, Hashable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// "No cluster yet": a node that has not learnt which cluster it belongs to.
    public static let none = ClusterID(high: 0, low: 0)
    public var isNone: Bool { self == .none }

    /// A fresh random id (a one-node cluster, which has no peers to agree with).
    public static func random() -> ClusterID {
        var id = ClusterID.none
        while id.isNone { id = ClusterID(high: .random(in: .min ... .max), low: .random(in: .min ... .max)) }
        return id
    }

    /// The id every initial voter derives alike from the same `--peers`, so a fresh cluster
    /// agrees on its id without a round of messages (as etcd derives one from its initial
    /// cluster and token). Two FNV-1a passes with different offsets; not a secret, an identity.
    public static func derived(fromPeers peers: [UInt64: String]) -> ClusterID {
        var text = "runnel-cluster"
        for (id, address) in peers.sorted(by: { $0.key < $1.key }) { text += "\n\(id)=\(address)" }
        let bytes = Array(text.utf8)
        return ClusterID(high: fnv1a(bytes, offset: 0xcbf2_9ce4_8422_2325), low: fnv1a(bytes, offset: 0x8422_2325_cbf2_9ce4))
    }

    private static func fnv1a(_ bytes: [UInt8], offset: UInt64) -> UInt64 {
        var hash = offset
        for b in bytes {
            hash ^= UInt64(b)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    public var description: String {
        let h = String(high, radix: 16), l = String(low, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h + String(repeating: "0", count: 16 - l.count) + l
    }

    /// Parses 32 hex digits.
    public init?(_ text: String) {
        guard text.count == 32, let h = UInt64(text.prefix(16), radix: 16), let l = UInt64(text.suffix(16), radix: 16) else { return nil }
        self.init(high: h, low: l)
    }

    public func encode(into w: inout ByteWriter) {
        w.u64(high)
        w.u64(low)
    }

    public init(from r: inout ByteReader) throws(BinaryDecodingError) {
        self.init(high: try r.u64(), low: try r.u64())
    }
}

/// Who a data directory is: the cluster it belongs to and its incarnation, a random number
/// drawn when the directory was created. A node that lost its disk comes back with the same
/// id but a new incarnation, which is how its peers tell it from the node they knew.
public struct ClusterIdentity: Sendable, Hashable {
    public var clusterID: ClusterID
    public var incarnation: UInt64

    public init(clusterID: ClusterID, incarnation: UInt64) {
        self.clusterID = clusterID
        self.incarnation = incarnation
    }

    /// A new incarnation (never 0, which means "unknown" on the wire).
    public static func newIncarnation() -> UInt64 { .random(in: 1 ... .max) }
}

/// Whether a node takes part in Raft (docs/state-transfer.md §5).
public enum Admission: UInt8, Sendable {
    /// A member (or a node joining through `--join`, which the leader adds): Raft runs.
    case member = 0
    /// A new data directory started with `--peers`: before bootstrapping, the node asks its
    /// peers whether the cluster already exists.
    case probing = 1
    /// A node that must be admitted by the leader before it may vote or acknowledge anything:
    /// one started with `--join`, or one whose data is gone while its cluster exists (the
    /// leader then replaces its old incarnation). It asks until the leader says it is a member.
    case awaitingAdmission = 2

    /// As shown by `/admin/v1/cluster`.
    public var name: String {
        switch self {
        case .member: "member"
        case .probing: "probing"
        case .awaitingAdmission: "awaiting_admission"
        }
    }
}
