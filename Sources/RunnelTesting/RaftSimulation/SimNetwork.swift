import Raft

/// A fake network: every message gets a delivery step; messages may be dropped, duplicated,
/// delayed (and so reordered), or blocked by symmetric and asymmetric partitions.
struct SimNetwork {
    struct Faults {
        var dropRate = 0.0
        var duplicateRate = 0.0
        var maxDelay = 1
        var longDelayRate = 0.0
    }

    static let horizon = 64
    private var buckets: [[Message]] = Array(repeating: [], count: SimNetwork.horizon)
    /// Directed links that drop everything: `from << 32 | to`.
    private(set) var blocked: Set<UInt64> = []
    var faults = Faults()
    private(set) var sent = 0
    private(set) var dropped = 0

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
