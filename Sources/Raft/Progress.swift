/// The leader's view of one follower's log (paper Figure 2 `nextIndex`/`matchIndex`, with the
/// flow control of etcd/raft's progress tracker).
struct Progress: Sendable {
    enum State: Sendable, Equatable {
        /// Unknown match point: one append in flight at a time, backtracking on rejection.
        case probe
        /// Known match point: appends are pipelined up to the in-flight window.
        case replicate
        /// The follower needs compacted entries: a snapshot is being streamed to it.
        case snapshot
    }

    var match: UInt64 = 0
    var next: UInt64
    var state: State = .probe
    /// In probe state, an append is outstanding; cleared by a response, or by a stall (see
    /// `stallHeartbeats`) of heartbeat responses without one.
    var probeSent = false
    var inflight = Inflights()
    /// Heard from since the last check-quorum round (thesis §6.2).
    var recentActive = true
    /// An append was acknowledged since the last heartbeat response (stall detection).
    var ackedSinceHeartbeat = false
    /// Consecutive heartbeat responses without an acknowledgement while appends are in flight
    /// (in replicate state) or since the outstanding probe was sent (in probe state).
    var unackedHeartbeats = 0
    var isLearner: Bool
    /// Outgoing snapshot transfer, when `state == .snapshot`.
    var snapshotTransfer: SnapshotTransfer?

    init(next: UInt64, isLearner: Bool) {
        self.next = next
        self.isLearner = isLearner
    }

    mutating func becomeProbe() {
        unackedHeartbeats = 0
        if state == .snapshot, let t = snapshotTransfer {
            next = max(match, t.index) + 1
        } else {
            next = match + 1
        }
        state = .probe
        probeSent = false
        inflight.reset()
        snapshotTransfer = nil
    }

    mutating func becomeReplicate() {
        unackedHeartbeats = 0
        state = .replicate
        next = match + 1
        probeSent = false
        inflight.reset()
        snapshotTransfer = nil
    }

    mutating func becomeSnapshot(_ transfer: SnapshotTransfer) {
        state = .snapshot
        probeSent = false
        inflight.reset()
        snapshotTransfer = transfer
    }

    /// Records a successful append up to `index`; returns whether `match` moved.
    mutating func maybeUpdate(_ index: UInt64) -> Bool {
        var updated = false
        if match < index {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index + 1)
        return updated
    }

    /// Handles a rejection of `rejected` (a prevIndex); returns false when it is stale.
    mutating func maybeDecrease(rejected: UInt64, matchHint: UInt64) -> Bool {
        if state == .snapshot { return false }
        if state == .replicate {
            if rejected <= match { return false }
            next = match + 1
            return true
        }
        if next - 1 != rejected { return false }
        next = max(min(rejected, matchHint + 1), match + 1)
        probeSent = false
        return true
    }

    /// Whether the leader should hold back further appends to this follower.
    func isPaused(_ config: RaftConfiguration) -> Bool {
        switch state {
        case .probe: probeSent
        case .replicate: inflight.isFull(config)
        case .snapshot: true
        }
    }
}

/// Appends sent to a follower but not yet acknowledged, bounded in entries and in bytes.
struct Inflights: Sendable {
    private var items: [(last: UInt64, count: Int, bytes: Int)] = []
    private var head = 0
    private(set) var entryCount = 0
    private(set) var byteCount = 0

    var isEmpty: Bool { head == items.count }

    func isFull(_ config: RaftConfiguration) -> Bool {
        entryCount >= config.maxInflightEntries || byteCount >= config.maxInflightBytes
    }

    mutating func add(last: UInt64, count: Int, bytes: Int) {
        items.append((last, count, bytes))
        entryCount += count
        byteCount += bytes
    }

    /// Frees every append whose last entry is at or below `index`.
    mutating func free(upTo index: UInt64) {
        while head < items.count, items[head].last <= index {
            entryCount -= items[head].count
            byteCount -= items[head].bytes
            head += 1
        }
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    /// Frees the oldest append (a heartbeat response shows the follower alive while the window
    /// is stuck full, most likely because an append was lost).
    mutating func freeFirst() {
        guard head < items.count else { return }
        free(upTo: items[head].last)
    }

    mutating func reset() {
        items.removeAll(keepingCapacity: true)
        head = 0
        entryCount = 0
        byteCount = 0
    }
}

/// State of one outgoing InstallSnapshot stream (paper §7): one chunk in flight at a time.
struct SnapshotTransfer: Sendable {
    var index: UInt64
    var term: UInt64
    /// Next byte to send.
    var offset: UInt64
    /// A chunk is outstanding; cleared by a response or by a heartbeat tick (resend).
    var chunkInFlight: Bool
    /// Heartbeats sent while the chunk was outstanding.
    var idleHeartbeats: Int
}

/// The leader's view of one follower, for the driver (deciding when a learner has caught up
/// enough to promote, thesis §4.2.1) and for metrics.
public struct FollowerProgress: Sendable, Hashable {
    public enum State: Sendable, Hashable { case probe, replicate, snapshot }
    public var id: NodeID
    /// Highest index known replicated (and durable) on the follower.
    public var match: UInt64
    /// Next index the leader will send.
    public var next: UInt64
    public var state: State
    public var isLearner: Bool
    /// Heard from during the current check-quorum interval.
    public var recentActive: Bool
}

extension RaftNode {
    /// Replication progress of every other member; empty unless this node is the leader.
    public var followers: [FollowerProgress] {
        guard role == .leader else { return [] }
        return progress.ids.compactMap { id in
            progress[id].map { pr in
                let state: FollowerProgress.State = switch pr.state {
                case .probe: .probe
                case .replicate: .replicate
                case .snapshot: .snapshot
                }
                return FollowerProgress(id: id, match: pr.match, next: pr.next, state: state,
                                        isLearner: pr.isLearner, recentActive: pr.recentActive)
            }
        }
    }
}
