import Raft

/// A fake network: every message gets a delivery step; messages may be dropped, duplicated,
/// delayed (and so reordered), or blocked by symmetric and asymmetric partitions.
struct SimNetwork {
    struct Faults {
        var dropRate = 0.0
        var duplicateRate = 0.0
        var maxDelay = 1
        var longDelayRate = 0.0
        /// Deliver each directed link in order, like the TCP peer transport; when false,
        /// messages on a link overtake each other freely.
        var fifoLinks = true
    }

    static let horizon = 64
    private var buckets: [[Message]] = Array(repeating: [], count: SimNetwork.horizon)
    /// Directed links that drop everything: `from << 32 | to`.
    private(set) var blocked: Set<UInt64> = []
    var faults = Faults()
    private(set) var sent = 0
    private(set) var dropped = 0
    /// Last delivery step scheduled per directed link, for FIFO links.
    private var linkTail: [UInt64: Int] = [:]

    func isBlocked(from: NodeID, to: NodeID) -> Bool { blocked.contains(from << 32 | to) }

    mutating func block(from: NodeID, to: NodeID) { blocked.insert(from << 32 | to) }

    mutating func heal() { blocked = [] }

    mutating func send(_ m: Message, now: Int, rng: inout SimRandom) {
        sent += 1
        if isBlocked(from: m.from, to: m.to) || rng.chance(faults.dropRate) {
            dropped += 1
            return
        }
        enqueue(m, now: now, rng: &rng)
        if rng.chance(faults.duplicateRate) { enqueue(m, now: now, rng: &rng) }
    }

    private mutating func enqueue(_ m: Message, now: Int, rng: inout SimRandom) {
        var delay = rng.inRange(1...max(1, faults.maxDelay))
        if rng.chance(faults.longDelayRate) { delay = rng.inRange(10...(SimNetwork.horizon - 1)) }
        if faults.fifoLinks {
            let link = m.from << 32 | m.to
            let at = max(now + delay, linkTail[link] ?? 0)
            delay = min(at - now, SimNetwork.horizon - 1)
            linkTail[link] = now + delay
        }
        buckets[(now + delay) % SimNetwork.horizon].append(m)
    }

    /// The messages due at `now`, shuffled (same-step messages arrive in any order).
    mutating func takeDue(now: Int, rng: inout SimRandom) -> [Message] {
        var due = buckets[now % SimNetwork.horizon]
        buckets[now % SimNetwork.horizon] = []
        if due.count > 1 {
            for i in stride(from: due.count - 1, to: 0, by: -1) { due.swapAt(i, rng.below(i + 1)) }
        }
        return due
    }
}
