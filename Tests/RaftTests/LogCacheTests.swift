@testable import Raft
import Testing

/// The log's terms as runs, and its entry data as a cache bounded in bytes with evicted entries
/// read back from the driver's ``LogEntrySource``.
@Suite struct LogCacheTests {
    static let terms: [UInt64] = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]

    static func runs(_ terms: [UInt64], after start: UInt64 = 0) -> TermRuns {
        var r = TermRuns(after: start)
        for (i, t) in terms.enumerated() { r.append(index: start + 1 + UInt64(i), term: t) }
        return r
    }

    /// The linear scan the runs replace.
    static func naiveConflict(_ terms: [UInt64], start: UInt64, index: UInt64, term: UInt64) -> (UInt64, UInt64)? {
        var i = min(index, start + UInt64(terms.count))
        while i > start {
            let t = terms[Int(i - start - 1)]
            if t <= term { return (i, t) }
            i -= 1
        }
        return nil
    }

    static func check(_ r: TermRuns, against terms: [UInt64], start: UInt64) {
        #expect(r.lastIndex == start + UInt64(terms.count))
        for i in 0...(start + UInt64(terms.count) + 2) {
            let expected = i > start && i <= start + UInt64(terms.count) ? terms[Int(i - start - 1)] : nil
            #expect(r.term(at: i) == expected, "term at \(i)")
            for t in 0...7 as ClosedRange<UInt64> {
                let got = r.lastIndex(atOrBelow: i, termAtMost: t)
                let want = naiveConflict(terms, start: start, index: i, term: t)
                #expect(got?.index == want?.0 && got?.term == want?.1, "conflict at \(i) term \(t)")
            }
        }
    }

    @Test func termRunsAgreeWithTheEntries() {
        var r = Self.runs(Self.terms)
        #expect(r.runs.count == 4)
        Self.check(r, against: Self.terms, start: 0)
        r.truncate(after: 6)
        Self.check(r, against: Array(Self.terms.prefix(6)), start: 0)
        r.append(index: 7, term: 7)
        Self.check(r, against: Array(Self.terms.prefix(6)) + [7], start: 0)
        r.dropThrough(4)
        Self.check(r, against: [4, 5, 7], start: 4)
        r.dropThrough(5)
        Self.check(r, against: [5, 7], start: 5)
        #expect(r.runs == [TermRun(firstIndex: 6, term: 5), TermRun(firstIndex: 7, term: 7)])
        r.dropThrough(7)
        Self.check(r, against: [], start: 7)
        r.append(index: 8, term: 8)
        Self.check(r, against: [8], start: 7)
    }

    @Test func outlineKeepsTermsAndConfigurationEntries() {
        let config = Entry(term: 2, index: 3, kind: .configuration, data: Membership(voters: [1, 2]).encoded())
        var outline = LogOutline(after: 0)
        let appended = [
            outline.append(Entry(term: 1, index: 1, data: [1])),
            outline.append(Entry(term: 1, index: 3)),
            outline.append(Entry(term: 2, index: 2)),
            outline.append(config),
        ]
        #expect(appended == [true, false, true, true], "an entry out of order is refused")
        #expect(outline.lastIndex == 3 && outline.startIndex == 0)
        #expect(outline.termRuns == [TermRun(firstIndex: 1, term: 1), TermRun(firstIndex: 2, term: 2)])
        #expect(outline.configurations == [config])
    }

    static func payload(_ i: Int) -> [UInt8] { Array(repeating: UInt8(truncatingIfNeeded: i), count: 100) }

    @Test func evictionKeepsTheCacheUnderTheBoundWhileALaggingFollowerIsServedFromTheSource() {
        let bound = 400
        var h = Harness(voters: [1, 2, 3], sources: true) {
            $0.maxInMemoryLogBytes = bound
            $0.maxEntriesPerMessage = 4
        }
        h.elect(1)
        h.isolate(3)
        for i in 0..<30 {
            h.propose(1, Self.payload(i))
            h.stabilize()
            #expect(h[1].inMemoryLogBytes <= bound && h[2].inMemoryLogBytes <= bound)
        }
        #expect(h[1].firstInMemoryIndex > 20, "older entries were evicted")
        #expect(h[1].entry(at: 2)?.data == Self.payload(0), "and are read back from the source")
        let readsBefore = h.sources[1]!.reads.count
        h.heal()
        h.tickAll(12)
        #expect(h.appliedData(3) == (0..<30).map(Self.payload))
        #expect(h.applied[3]!.map(\.index) == Array(1...h[1].lastIndex))
        #expect(h.sources[1]!.reads.count > readsBefore, "the lagging follower was fed from disk")
        // Every append node 3 received continued its log in order.
        var expected: UInt64 = 1
        for m in h.delivered where m.to == 3 {
            guard case let .append(prevIndex, _, entries, _) = m.payload, !entries.isEmpty else { continue }
            #expect(entries.map(\.index) == Array((prevIndex + 1)...(prevIndex + UInt64(entries.count))))
            #expect(prevIndex + 1 <= expected, "no gap: \(prevIndex + 1) after \(expected - 1)")
            expected = max(expected, entries.last!.index + 1)
        }
        #expect(h[3].inMemoryLogBytes <= bound)
        #expect(h[1].commitIndex == h[3].commitIndex)
    }

    @Test func withoutASourceNothingIsEvicted() {
        var h = Harness(voters: [1]) { $0.maxInMemoryLogBytes = 100 }
        h.elect(1)
        for i in 0..<10 { h.propose(1, Self.payload(i)) }
        h.stabilize()
        #expect(h[1].firstInMemoryIndex == 1)
        #expect(h[1].inMemoryLogBytes > 1000)
    }

    /// A restart from an outline and the entries above the commit index only: terms and
    /// membership are known for the whole log, and the apply loop is re-fed from the source.
    @Test func restartWithATailOnly() {
        var h = Harness(voters: [1, 2, 3], sources: true) { $0.maxInMemoryLogBytes = 300 }
        h.elect(1)
        for i in 0..<12 { h.propose(1, Self.payload(i)) }
        h.stabilize()
        h.isolate(2)
        for i in 12..<14 { h.propose(1, Self.payload(i)) }
        h.stabilize()
        let last = h.disks[2]!.entries.last!.index
        let commit = h.disks[2]!.hardState.commit
        h.restart(2, tailAbove: commit, appliedIndex: 3)
        #expect(h[2].lastIndex == last && h[2].lastTerm == h[1].term)
        #expect(h[2].term(at: 1) == 1 && h[2].commitIndex == commit && h[2].appliedIndex == 3)
        #expect(h[2].membership == Membership(voters: [1, 2, 3]))
        #expect(h[2].firstInMemoryIndex == commit + 1)
        h.healBeforeStallIsRevealed()
        h.tickAll(4)
        #expect(h.applied[2]!.map(\.index) == Array(4...h[1].lastIndex), "re-fed from the source after 3")
        #expect(h.appliedData(2).suffix(3) == (11..<14).map(Self.payload))
        #expect(h[2].inMemoryLogBytes <= 300)
    }

    @Test func aFailingSourceStallsTheApplyLoopWithoutSpinning() {
        var h = Harness(voters: [1], sources: true) { $0.maxInMemoryLogBytes = 100 }
        h.elect(1)
        for i in 0..<5 { h.propose(1, Self.payload(i)) }
        h.stabilize()
        #expect(h.disks[1]!.hardState.commit == 6)
        h.restart(1, tailAbove: 6, appliedIndex: 0)
        h.sources[1]!.failing = true
        _ = h.process(1)
        #expect(!h[1].hasReady, "nothing to hand out while the source fails")
        #expect(h.applied[1]!.isEmpty)
        h.sources[1]!.failing = false
        h.tick(1)
        #expect(h[1].hasReady)
        h.processAll()
        #expect(h.appliedData(1) == (0..<5).map(Self.payload))
    }
}
