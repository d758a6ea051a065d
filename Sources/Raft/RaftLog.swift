/// The in-memory view of a server's log: a snapshot boundary followed by every entry after it
/// (paper §5.3, §7), plus the bookkeeping the persistence contract needs.
///
/// The log keeps every entry since the last compaction in memory; the driver bounds memory by
/// taking snapshots (``RaftNode/snapshotTaken(index:data:)``). Three marks matter:
/// - `emittedIndex`: entries above it have not been handed to the driver for persistence yet;
/// - `stableIndex`: the driver reported entries up to it durable (``RaftNode/persisted(upTo:term:)``);
/// - `commitIndex` / `appliedIndex`: paper Figure 2, "volatile state on all servers".
struct RaftLog: Sendable {
    private(set) var snapshotIndex: UInt64
    private(set) var snapshotTerm: UInt64
    /// Entries `snapshotIndex + 1 ... lastIndex`.
    private(set) var entries: [Entry]
    private(set) var stableIndex: UInt64
    private(set) var emittedIndex: UInt64
    var commitIndex: UInt64
    /// Highest index handed to the driver for applying.
    var appliedIndex: UInt64
    /// Membership as of `snapshotIndex`.
    private(set) var baseMembership: Membership
    /// Configuration entries above `snapshotIndex`, in log order (thesis §4.1: the latest wins).
    private(set) var membershipHistory: [(index: UInt64, membership: Membership)] = []

    init(snapshot: SnapshotMetadata, entries: [Entry], commit: UInt64) {
        snapshotIndex = snapshot.index
        snapshotTerm = snapshot.term
        baseMembership = snapshot.membership
        self.entries = entries
        precondition(entries.first.map { $0.index == snapshot.index + 1 } ?? true, "entries must follow the snapshot")
        let last = snapshot.index + UInt64(entries.count)
        stableIndex = last
        emittedIndex = last
        commitIndex = min(max(commit, snapshot.index), last)
        appliedIndex = snapshot.index
        for e in entries where e.kind == .configuration {
            if let m = try? ConfigurationEntry(decoding: e.data).membership { membershipHistory.append((e.index, m)) }
        }
    }

    var firstIndex: UInt64 { snapshotIndex + 1 }
    var lastIndex: UInt64 { snapshotIndex + UInt64(entries.count) }
    var lastTerm: UInt64 { entries.last?.term ?? snapshotTerm }
    var membership: Membership { membershipHistory.last?.membership ?? baseMembership }
    /// Index of the latest configuration entry, or the snapshot index if none is in the log.
    var membershipIndex: UInt64 { membershipHistory.last?.index ?? snapshotIndex }

    /// The term of the entry at `index`, or `nil` if it is compacted or beyond the end.
    func term(at index: UInt64) -> UInt64? {
        if index == snapshotIndex { return snapshotTerm }
        if index < snapshotIndex || index > lastIndex { return nil }
        return entries[Int(index - snapshotIndex - 1)].term
    }

    func entry(at index: UInt64) -> Entry? {
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)]
    }

    func matchTerm(_ index: UInt64, _ term: UInt64) -> Bool { self.term(at: index) == term }

    /// Election restriction (paper §5.4.1).
    func isUpToDate(lastIndex: UInt64, lastTerm: UInt64) -> Bool {
        lastTerm > self.lastTerm || (lastTerm == self.lastTerm && lastIndex >= self.lastIndex)
    }

    /// Entries from `index` on, limited by count and (softly) by bytes: at least one entry.
    func entries(from index: UInt64, maxCount: Int, maxBytes: Int) -> ArraySlice<Entry> {
        guard index > snapshotIndex, index <= lastIndex else { return [] }
        let start = Int(index - snapshotIndex - 1)
        var end = start
        var bytes = 0
        while end < entries.count, end - start < maxCount {
            bytes += entries[end].sizeInBytes
            if end > start, bytes > maxBytes { break }
            end += 1
        }
        return entries[start..<end]
    }

    /// Largest index at or below `index` whose term is at most `term` (etcd's
    /// findConflictByTerm), with that term. Used on both sides of fast backtracking.
    func findConflictByTerm(index: UInt64, term: UInt64) -> (index: UInt64, term: UInt64) {
        var i = min(index, lastIndex)
        while i > snapshotIndex {
            let t = entries[Int(i - snapshotIndex - 1)].term
            if t <= term { return (i, t) }
            i -= 1
        }
        return (snapshotIndex, snapshotTerm <= term ? snapshotTerm : 0)
    }

    /// Leader path: append entries that extend the log.
    mutating func append(_ new: [Entry]) {
        guard let first = new.first else { return }
        precondition(first.index == lastIndex + 1, "append must extend the log")
        for e in new { appendOne(e) }
    }

    private mutating func appendOne(_ e: Entry) {
        entries.append(e)
        if e.kind == .configuration, let m = try? ConfigurationEntry(decoding: e.data).membership {
            membershipHistory.append((e.index, m))
        }
    }

    /// Follower path (paper §5.3, receiver steps 2–4): if the log matches at `prevIndex`, drop
    /// any conflicting suffix, append what is new and return the last index covered by the
    /// message. Never truncates on a duplicate or stale message whose entries all match.
    mutating func maybeAppend(prevIndex: UInt64, prevTerm: UInt64, entries new: [Entry]) -> UInt64? {
        guard matchTerm(prevIndex, prevTerm) else { return nil }
        let lastNew = prevIndex + UInt64(new.count)
        for (offset, e) in new.enumerated() {
            let idx = prevIndex + 1 + UInt64(offset)
            if idx <= snapshotIndex { continue }
            if let t = term(at: idx), t == e.term { continue }
            precondition(idx > commitIndex, "conflict at committed index \(idx)")
            truncate(after: idx - 1)
            for rest in new[offset...] { appendOne(rest) }
            break
        }
        return lastNew
    }

    /// Drop every entry above `index`, reverting membership (thesis §4.1) and the marks.
    private mutating func truncate(after index: UInt64) {
        guard index < lastIndex else { return }
        entries.removeLast(Int(lastIndex - index))
        while let last = membershipHistory.last, last.index > index { membershipHistory.removeLast() }
        stableIndex = min(stableIndex, index)
        emittedIndex = min(emittedIndex, index)
    }

    /// The entries not yet handed to the driver for persistence; marks them handed over.
    mutating func takeUnemitted() -> [Entry] {
        guard emittedIndex < lastIndex else { return [] }
        let from = max(emittedIndex + 1, firstIndex)
        let out = Array(entries[Int(from - snapshotIndex - 1)...])
        emittedIndex = lastIndex
        return out
    }

    /// The driver reports entries up to `index` durable; ignored if `index` was since
    /// overwritten by an entry of another term.
    mutating func stableTo(index: UInt64, term: UInt64) -> Bool {
        guard index > stableIndex, index <= emittedIndex, self.term(at: index) == term else { return false }
        stableIndex = index
        return true
    }

    /// Committed entries that are durable here and not yet handed out for applying.
    mutating func takeCommittedEntries(maxBytes: Int) -> [Entry] {
        let upTo = min(commitIndex, stableIndex)
        guard upTo > appliedIndex else { return [] }
        let slice = entries(from: appliedIndex + 1, maxCount: Int(upTo - appliedIndex), maxBytes: maxBytes)
        if let last = slice.last { appliedIndex = last.index }
        return Array(slice)
    }

    /// The membership in effect at `index` (for snapshot metadata).
    func membership(at index: UInt64) -> Membership {
        membershipHistory.last(where: { $0.index <= index })?.membership ?? baseMembership
    }

    /// Discard entries up to `index`, which must be applied (paper §7).
    mutating func compact(to index: UInt64) {
        guard index > snapshotIndex, index <= appliedIndex, let t = term(at: index) else { return }
        let m = membership(at: index)
        entries.removeFirst(Int(index - snapshotIndex))
        membershipHistory.removeAll { $0.index <= index }
        snapshotIndex = index
        snapshotTerm = t
        baseMembership = m
    }

    /// Replace the whole log with a snapshot received from the leader (paper §7, receiver
    /// steps 6–8). The caller first checks whether the log already holds the snapshot's last
    /// entry; if so it only advances the commit index instead.
    mutating func restore(_ meta: SnapshotMetadata) {
        entries = []
        membershipHistory = []
        snapshotIndex = meta.index
        snapshotTerm = meta.term
        baseMembership = meta.membership
        stableIndex = meta.index
        emittedIndex = meta.index
        commitIndex = meta.index
        appliedIndex = meta.index
    }
}
