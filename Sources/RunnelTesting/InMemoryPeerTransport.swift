import Raft
import Replication
import Storage
import Synchronization

/// An in-process network for nodes in one test: each node's ``InMemoryPeerTransport`` hands
/// frames to the hub, which delivers them to the receiver registered for the addressee, unless
/// the link is cut or a filter drops the frame.
///
/// Every frame is encoded and decoded on the way, as the NIO transport does, so a test through
/// the hub also exercises the wire format. Delivery is synchronous on the sender's thread and
/// in order per link; a frame to a node with no receiver (not registered yet, or stopped) is
/// lost, as on a network, and Raft retransmits.
public final class InMemoryPeerHub: Sendable {
    /// Decides whether one frame crosses: `(from, to, frame) -> deliver?`.
    public typealias Filter = @Sendable (_ from: NodeID, _ to: NodeID, _ frame: PeerFrame) -> Bool

    private struct Link: Hashable {
        var from: NodeID
        var to: NodeID
    }

    private struct State {
        var receivers: [NodeID: @Sendable (PeerFrame, NodeID) -> Void] = [:]
        var cut: Set<Link> = []
        var filter: Filter?
        var delivered = 0
        var dropped = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// The transport node `id` sends through.
    public func transport(for id: NodeID) -> InMemoryPeerTransport {
        InMemoryPeerTransport(id: id, hub: self)
    }

    /// Frames addressed to `id` go to `receive(frame, sender)` from now on.
    public func register(_ id: NodeID, receive: @escaping @Sendable (PeerFrame, NodeID) -> Void) {
        state.withLock { $0.receivers[id] = receive }
    }

    /// Frames addressed to `id` are lost from now on.
    public func unregister(_ id: NodeID) {
        state.withLock { $0.receivers[id] = nil }
    }

    /// Cuts both directions between `id` and every node in `others`.
    public func isolate(_ id: NodeID, from others: some Sequence<NodeID>) {
        state.withLock { s in
            for other in others where other != id {
                s.cut.insert(Link(from: id, to: other))
                s.cut.insert(Link(from: other, to: id))
            }
        }
    }

    /// Cuts the one direction `from` → `to`.
    public func cut(from: NodeID, to: NodeID) {
        state.withLock { _ = $0.cut.insert(Link(from: from, to: to)) }
    }

    /// Restores every link and removes the filter.
    public func heal() {
        state.withLock { s in
            s.cut = []
            s.filter = nil
        }
    }

    /// Drops every frame on an intact link for which `filter` returns `false` (`nil`: none).
    public func setFilter(_ filter: Filter?) {
        state.withLock { $0.filter = filter }
    }

    /// Frames delivered and frames dropped so far.
    public var counts: (delivered: Int, dropped: Int) {
        state.withLock { ($0.delivered, $0.dropped) }
    }

    fileprivate func send(_ frames: [PeerFrame], from: NodeID, to: NodeID) {
        // Decide under the lock, deliver after releasing it: the receiver takes its own lock.
        let (receiver, passing) = state.withLock { s -> ((@Sendable (PeerFrame, NodeID) -> Void)?, [PeerFrame]) in
            guard let receiver = s.receivers[to], !s.cut.contains(Link(from: from, to: to)) else {
                s.dropped += frames.count
                return (nil, [])
            }
            let passing = frames.filter { s.filter?(from, to, $0) ?? true }
            s.dropped += frames.count - passing.count
            s.delivered += passing.count
            return (receiver, passing)
        }
        guard let receiver else { return }
        for frame in passing {
            let bytes = frame.encoded()
            guard let decoded = try? PeerFrame(decoding: bytes) else {
                preconditionFailure("a PeerFrame does not survive its own encoding: \(frame)")
            }
            receiver(decoded, from)
        }
    }
}

/// One node's side of an ``InMemoryPeerHub``.
public final class InMemoryPeerTransport: PeerTransport {
    public let id: NodeID
    private let hub: InMemoryPeerHub
    private let dialled = Mutex<[NodeID: String]?>(nil)

    /// The peers the driver last asked to be connected to (`nil` before the first call). The
    /// hub reaches every registered node by id whatever this says.
    public var peers: [NodeID: String]? { dialled.withLock { $0 } }

    init(id: NodeID, hub: InMemoryPeerHub) {
        self.id = id
        self.hub = hub
    }

    public func send(_ frames: [PeerFrame], to peer: NodeID) {
        hub.send(frames, from: id, to: peer)
    }

    public func setPeers(_ peers: [NodeID: String]) {
        dialled.withLock { $0 = peers }
    }
}
