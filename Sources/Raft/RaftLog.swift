/// The in-memory view of a server's log: a compaction point (the log start, paper §7), the
/// term of every entry after it, and the entries themselves for a tail bounded in bytes,
/// plus the bookkeeping the persistence contract needs.
///
/// Terms are kept for the whole log, as runs (``TermRuns``), so elections, consistency checks
/// and fast backtracking never touch the disk. Entry data is a cache: when the node has a
/// ``LogEntrySource``, entries that are durable (`stableIndex`) and already handed out for
/// applying (`appliedIndex`) are evicted oldest first once the cached bytes exceed
/// ``RaftConfiguration/maxInMemoryLogBytes``, and read back from the source when a lagging
/// follower or the apply loop needs them. Everything above the commit index therefore stays
/// cached (a conflicting suffix is always truncated from memory). Without a source nothing is
/// evicted: every entry since the last compaction stays in memory.
///
/// Marks:
/// - `emittedIndex`: entries above it have not been handed to the driver for persistence yet;
/// - `stableIndex`: the driver reported entries up to it durable (``RaftNode/persisted(upTo:term:)``);
/// - `commitIndex` / `appliedIndex`: paper Figure 2, "volatile state on all servers".
struct RaftLog: Sendable {
    private(set) var snapshotIndex: UInt64
    private(set) var snapshotTerm: UInt64
    /// Terms of `snapshotIndex + 1 ... lastIndex`.
    private(set) var terms: TermRuns
    /// Cached entries `cacheStart ... lastIndex`, from `cache[cacheHead]` on; slots before
    /// `cacheHead` were evicted (emptied) and are dropped from the array in batches.
    private var cache: [Entry]
    private var cacheHead = 0
    /// Bytes (``Entry/sizeInBytes``) of the cached entries.
    private(set) var cachedBytes = 0
    private let source: (any LogEntrySource)?
    private let maxCachedBytes: Int
    private(set) var stableIndex: UInt64
    private(set) var emittedIndex: UInt64
    var commitIndex: UInt64
    /// Highest index handed to the driver for applying.
    var appliedIndex: UInt64
    /// Committed entries could not be read back from the source: `takeCommittedEntries` is
    /// not retried until ``retryReads()`` (the next tick), so a failing disk does not make the
    /// driver spin on `hasReady`.
    private(set) var applyStalled = false
    /// Membership as of `snapshotIndex`.
    private(set) var baseMembership: Membership
    /// Configuration entries above `snapshotIndex`, in log order (thesis §4.1: the latest wins).
    private(set) var membershipHistory: [(index: UInt64, membership: Membership)] = []

    /// A log starting after `snapshot`, described by `outline` (every entry's term and the
    /// configuration entries) with `tail`, a suffix of it, in memory. `tail` must hold every
    /// entry above the commit index (`commit`, or `applied` if higher): only those can be
    /// truncated or still need persisting; older ones, applied or not, come from `source`.
    /// Without an outline, `tail` is the whole log after the snapshot.
    init(snapshot: SnapshotMetadata, outline: LogOutline?, tail: [Entry], commit: UInt64, applied: UInt64,
         source: (any LogEntrySource)?, maxCachedBytes: Int) {
        snapshotIndex = snapshot.index
        snapshotTerm = snapshot.term
        baseMembership = snapshot.membership
        self.source = source
        self.maxCachedBytes = maxCachedBytes
        let outline = outline ?? LogOutline(after: snapshot.index, entries: tail)
        precondition(outline.startIndex == snapshot.index, "the outline must start at the snapshot")
        let runs = outline.terms
        terms = runs
        let last = outline.lastIndex
        if let first = tail.first {
            precondition(first.index > snapshot.index && tail.last!.index == last
                         && tail.last!.index - first.index + 1 == UInt64(tail.count), "the tail must end the log")
            precondition(tail.allSatisfy { runs.term(at: $0.index) == $0.term }, "the tail must match the outline")
        }
        cache = tail
        cachedBytes = tail.reduce(0) { $0 + $1.sizeInBytes }
        stableIndex = last
        emittedIndex = last
        appliedIndex = min(max(applied, snapshot.index), last)
        commitIndex = min(max(commit, appliedIndex), last)
        let cacheStart = tail.first?.index ?? last + 1
        precondition(source != nil || cacheStart == snapshot.index + 1, "without a source the whole log must be in memory")
        precondition(cacheStart <= commitIndex + 1, "the tail must hold every entry above the commit index")
        for e in outline.configurations {
            if let m = Self.membership(of: e) { membershipHistory.append((e.index, m)) }
        }
    }

    /// The membership a configuration entry carries (thesis §4.1).
    static func membership(of e: Entry) -> Membership? { try? ConfigurationEntry(decoding: e.data).membership }

    var firstIndex: UInt64 { snapshotIndex + 1 }
    var lastIndex: UInt64 { terms.lastIndex }
    var lastTerm: UInt64 { terms.term(at: lastIndex) ?? snapshotTerm }
    var membership: Membership { membershipHistory.last?.membership ?? baseMembership }
    /// Index of the latest configuration entry, or the snapshot index if none is in the log.
    var membershipIndex: UInt64 { membershipHistory.last?.index ?? snapshotIndex }
    /// First index whose entry is in memory (`lastIndex + 1` when none is).
    var cacheStart: UInt64 { lastIndex + 1 - UInt64(cache.count - cacheHead) }

    /// The term of the entry at `index`, or `nil` if it is compacted or beyond the end.
    func term(at index: UInt64) -> UInt64? {
        if index == snapshotIndex { return snapshotTerm }
        return terms.term(at: index)
    }

    /// The entry at `index` (read back from the source if evicted), or nil if it is compacted,
    /// beyond the end or unreadable.
    func entry(at index: UInt64) -> Entry? {
        entries(from: index, maxCount: 1, maxBytes: 0).first
    }

    private func cached(_ index: UInt64) -> Entry {
        cache[cacheHead + Int(index - cacheStart)]
    }

    func matchTerm(_ index: UInt64, _ term: UInt64) -> Bool { self.term(at: index) == term }

    /// Election restriction (paper §5.4.1).
    func isUpToDate(lastIndex: UInt64, lastTerm: UInt64) -> Bool {
        lastTerm > self.lastTerm || (lastTerm == self.lastTerm && lastIndex >= self.lastIndex)
    }

    /// Entries from `index` on, limited by count and (softly) by bytes: at least one entry when
    /// any exists, unless it is evicted and the source cannot read it. Evicted entries come
    /// from the source and are checked against the known terms; the valid prefix is kept.
    func entries(from index: UInt64, maxCount: Int, maxBytes: Int) -> [Entry] {
        guard index > snapshotIndex, index <= lastIndex, maxCount > 0 else { return [] }
        var out: [Entry] = []
        var bytes = 0
        var next = index
        let start = cacheStart
        if next < start {
            guard let source else { return [] }
            let through = next + min(UInt64(maxCount), start - next) - 1
            for e in source.entries(from: next, through: through, maxBytes: maxBytes) {
                guard e.index == next, next <= through, terms.term(at: next) == e.term else { break }
                bytes += e.sizeInBytes
                if !out.isEmpty, bytes > maxBytes { return out }
                out.append(e)
                next += 1
            }
            if next < start { return out }
        }
        while next <= lastIndex, out.count < maxCount {
            let e = cached(next)
            bytes += e.sizeInBytes
            if !out.isEmpty, bytes > maxBytes { break }
            out.append(e)
            next += 1
        }
        return out
    }

    /// Largest index at or below `index` whose term is at most `term` (etcd's
    /// findConflictByTerm), with that term. Used on both sides of fast backtracking.
    func findConflictByTerm(index: UInt64, term: UInt64) -> (index: UInt64, term: UInt64) {
        terms.lastIndex(atOrBelow: index, termAtMost: term)
            ?? (snapshotIndex, snapshotTerm <= term ? snapshotTerm : 0)
    }

    /// Leader path: append entries that extend the log.
    mutating func append(_ new: [Entry]) {
        guard let first = new.first else { return }
        precondition(first.index == lastIndex + 1, "append must extend the log")
        for e in new { appendOne(e) }
    }

    private mutating func appendOne(_ e: Entry) {
        terms.append(index: e.index, term: e.term)
        cache.append(e)
        cachedBytes += e.sizeInBytes
        if e.kind == .configuration, let m = Self.membership(of: e) {
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

    /// Drop every entry above `index`, reverting membership (thesis §4.1) and the marks. The
    /// dropped entries are above the commit index, so they are all cached.
    private mutating func truncate(after index: UInt64) {
        guard index < lastIndex else { return }
        precondition(index + 1 >= cacheStart, "truncating evicted entries")
        let drop = Int(lastIndex - index)
        for e in cache[(cache.count - drop)...] { cachedBytes -= e.sizeInBytes }
        cache.removeLast(drop)
        terms.truncate(after: index)
        while let last = membershipHistory.last, last.index > index { membershipHistory.removeLast() }
        stableIndex = min(stableIndex, index)
        emittedIndex = min(emittedIndex, index)
    }

    /// The entries not yet handed to the driver for persistence; marks them handed over.
    mutating func takeUnemitted() -> [Entry] {
        guard emittedIndex < lastIndex else { return [] }
        let from = max(emittedIndex + 1, firstIndex)
        let out = Array(cache[(cacheHead + Int(from - cacheStart))...])
        emittedIndex = lastIndex
        return out
    }

    /// The driver reports entries up to `index` durable; ignored if `index` was since
    /// overwritten by an entry of another term.
    mutating func stableTo(index: UInt64, term: UInt64) -> Bool {
        guard index > stableIndex, index <= emittedIndex, self.term(at: index) == term else { return false }
        stableIndex = index
        evictIfOverBound()
        return true
    }

    /// Committed entries that are durable here and not yet handed out for applying.
    mutating func takeCommittedEntries(maxBytes: Int) -> [Entry] {
        let upTo = min(commitIndex, stableIndex)
        guard upTo > appliedIndex, !applyStalled else { return [] }
        let slice = entries(from: appliedIndex + 1, maxCount: Int(clamping: upTo - appliedIndex), maxBytes: maxBytes)
        guard let last = slice.last else {
            applyStalled = true
            return []
        }
        appliedIndex = last.index
        evictIfOverBound()
        return slice
    }

    /// Committed entries are waiting to be handed out (and are not stalled on the source).
    var hasCommittedToApply: Bool { !applyStalled && min(commitIndex, stableIndex) > appliedIndex }

    /// Lets ``takeCommittedEntries(maxBytes:)`` try the source again.
    mutating func retryReads() { applyStalled = false }

    /// Evicts the oldest cached entries that are durable and handed out for applying while
    /// the cache is over its bound (only when there is a source to read them back from).
    private mutating func evictIfOverBound() {
        guard source != nil, cachedBytes > maxCachedBytes else { return }
        let evictable = min(stableIndex, appliedIndex)
        while cachedBytes > maxCachedBytes, cacheHead < cache.count, cache[cacheHead].index <= evictable {
            cachedBytes -= cache[cacheHead].sizeInBytes
            cache[cacheHead] = Entry(term: 0, index: 0)
            cacheHead += 1
        }
        if cacheHead > 0, cacheHead * 2 >= cache.count {
            cache.removeFirst(cacheHead)
            cacheHead = 0
        }
    }

    /// The membership in effect at `index` (for snapshot metadata).
    func membership(at index: UInt64) -> Membership {
        membershipHistory.last(where: { $0.index <= index })?.membership ?? baseMembership
    }

    /// Discard entries up to `index`, which must be applied (paper §7).
    mutating func compact(to index: UInt64) {
        guard index > snapshotIndex, index <= appliedIndex, let t = term(at: index) else { return }
        let m = membership(at: index)
        let start = cacheStart
        if index >= start {
            let drop = Int(index - start + 1)
            for e in cache[cacheHead..<(cacheHead + drop)] { cachedBytes -= e.sizeInBytes }
            cache.removeFirst(cacheHead + drop)
            cacheHead = 0
        }
        terms.dropThrough(index)
        membershipHistory.removeAll { $0.index <= index }
        snapshotIndex = index
        snapshotTerm = t
        baseMembership = m
    }

    /// Replace the whole log with a snapshot received from the leader (paper §7, receiver
    /// steps 6–8). The caller first checks whether the log already holds the snapshot's last
    /// entry; if so it only advances the commit index instead.
    mutating func restore(_ meta: SnapshotMetadata) {
        cache = []
        cacheHead = 0
        cachedBytes = 0
        terms = TermRuns(after: meta.index)
        membershipHistory = []
        snapshotIndex = meta.index
        snapshotTerm = meta.term
        baseMembership = meta.membership
        stableIndex = meta.index
        emittedIndex = meta.index
        commitIndex = meta.index
        appliedIndex = meta.index
        applyStalled = false
    }
}
