/// Where the core reads back log entries it no longer keeps in memory: the driver's durable
/// log (for Runnel, the `raft_log` column family).
///
/// The core calls it synchronously, from whichever thread drives the node, when a lagging
/// follower or the apply loop needs entries older than the in-memory tail (bounded by
/// ``RaftConfiguration/maxInMemoryLogBytes``). It only asks for entries the driver reported
/// durable and that are not compacted (``RaftNode/compact(through:)``), so they are on disk.
public protocol LogEntrySource: Sendable {
    /// Entries with index in `from...through`, in order, starting exactly at `from` and
    /// contiguous; at least one entry if any is requested, then softly bounded by `maxBytes`.
    /// Returning fewer (or none) is allowed, on a read error too: the core checks the indexes
    /// and terms it gets, uses the valid prefix, and asks again later (a follower's next
    /// heartbeat round; the apply loop at the next ``RaftNode/tick()``).
    func entries(from: UInt64, through: UInt64, maxBytes: Int) -> [Entry]
}

/// A run of consecutive log entries of one term, from `firstIndex` up to the next run.
public struct TermRun: Sendable, Hashable {
    public var firstIndex: UInt64
    public var term: UInt64

    public init(firstIndex: UInt64, term: UInt64) {
        self.firstIndex = firstIndex
        self.term = term
    }
}

/// The terms of a contiguous range of log entries, as runs: terms change only at elections,
/// so a log of any length needs a handful of runs (paper §5.3: a log's terms never decrease).
struct TermRuns: Sendable, Hashable {
    /// Runs covering `start...lastIndex`, oldest first; empty when the range is empty.
    private(set) var runs: [TermRun] = []
    /// The index before the first covered entry (the log start).
    private(set) var start: UInt64
    /// The last covered index (`start` when the range is empty).
    private(set) var lastIndex: UInt64

    init(after index: UInt64) {
        start = index
        lastIndex = index
    }

    /// The term of the entry at `index`, or nil outside `start + 1 ... lastIndex`.
    func term(at index: UInt64) -> UInt64? {
        guard index > start, index <= lastIndex else { return nil }
        return runs[runIndex(containing: index)].term
    }

    /// Position of the run holding `index` (which must be covered): binary search.
    private func runIndex(containing index: UInt64) -> Int {
        var lo = 0
        var hi = runs.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if runs[mid].firstIndex <= index { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Extends the range by the entry at `lastIndex + 1`.
    mutating func append(index: UInt64, term: UInt64) {
        precondition(index == lastIndex + 1, "term runs must grow by one index")
        if runs.last?.term != term { runs.append(TermRun(firstIndex: index, term: term)) }
        lastIndex = index
    }

    /// Drops every index above `index`.
    mutating func truncate(after index: UInt64) {
        guard index < lastIndex else { return }
        let keep = max(index, start)
        while let last = runs.last, last.firstIndex > keep { runs.removeLast() }
        lastIndex = keep
    }

    /// Drops every index at or below `index`, which becomes the new start.
    mutating func dropThrough(_ index: UInt64) {
        guard index > start else { return }
        if index >= lastIndex {
            runs = []
            start = index
            lastIndex = index
            return
        }
        let first = runIndex(containing: index + 1)
        runs.removeFirst(first)
        runs[0].firstIndex = index + 1
        start = index
    }

    /// Largest index at or below `index` whose term is at most `term`, with that term, or nil
    /// if there is none above `start` (etcd's findConflictByTerm, one step per run).
    func lastIndex(atOrBelow index: UInt64, termAtMost term: UInt64) -> (index: UInt64, term: UInt64)? {
        let i = min(index, lastIndex)
        guard i > start else { return nil }
        var r = runIndex(containing: i)
        var candidate = i
        while true {
            if runs[r].term <= term { return (candidate, runs[r].term) }
            if r == 0 { return nil }
            candidate = runs[r].firstIndex - 1
            r -= 1
        }
    }
}

/// What the core needs to know about a stored log without holding its entries: the term of
/// every entry and every configuration entry (thesis §4.1: membership is the latest
/// configuration in the log).
///
/// Restart without reading the whole log into memory: the driver passes an outline in
/// ``PersistentState/outline`` and only the unapplied tail of the log in
/// ``PersistentState/entries``; the core reads older entries back from its
/// ``LogEntrySource`` when it needs them. The driver builds the outline in one streaming pass
/// over its stored log (``append(_:)`` per entry keeps only terms and configuration entries,
/// so memory stays small however long the log is), or keeps one up to date as it writes.
public struct LogOutline: Sendable, Hashable {
    var terms: TermRuns
    /// Every configuration entry in the log, in log order.
    public private(set) var configurations: [Entry] = []

    /// An empty outline of the log after `index` (the log start: the compaction point).
    public init(after index: UInt64) {
        terms = TermRuns(after: index)
    }

    /// The index before the first described entry (the log start).
    public var startIndex: UInt64 { terms.start }
    /// The index of the last described entry (`startIndex` for an empty log).
    public var lastIndex: UInt64 { terms.lastIndex }
    /// The terms of the described entries.
    public var termRuns: [TermRun] { terms.runs }

    /// Adds the next entry of the log (its index must be ``lastIndex`` + 1): its term, and the
    /// entry itself if it is a configuration entry. Returns false (and changes nothing) for an
    /// entry out of order.
    @discardableResult
    public mutating func append(_ entry: Entry) -> Bool {
        guard entry.index == terms.lastIndex + 1 else { return false }
        terms.append(index: entry.index, term: entry.term)
        if entry.kind == .configuration { configurations.append(entry) }
        return true
    }

    /// An outline of `entries`, which follow the log start `index`.
    public init(after index: UInt64, entries: [Entry]) {
        self.init(after: index)
        for e in entries { append(e) }
    }
}
