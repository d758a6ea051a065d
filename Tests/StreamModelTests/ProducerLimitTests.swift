import Testing
@testable import StreamModel

/// Producer state is bounded per stream and forgotten when idle; an append changes only its
/// own producer's row (issue 13, finding 7).
@Suite struct ProducerLimitTests {
    static func fill(_ h: inout Harness, count: Int) {
        for i in 0..<count {
            let result = h.run(append("s", "x", producer: producer("p\(i)", 0, 0)))
            if case .rejected(let error) = result { Issue.record("producer \(i): \(error)"); return }
        }
    }

    @Test func aNewProducerBeyondTheCapIsRefused() {
        var h = Harness()
        h.play([.run(create("s"))])
        Self.fill(&h, count: ProducerLimits.maxPerStream)
        let tail = h.meta("s")?.tail
        let (result, effects) = h.runIsolated(append("s", "x", producer: producer("one-too-many", 0, 0)))
        #expect(Expected.rejected(.producerLimit).matches(result), "\(result)")
        #expect(effects.units.isEmpty && effects.changedProducers.isEmpty)
        #expect(h.meta("s")?.tail == tail)
        // Known producers and plain appends go on.
        #expect(!Expected.rejected(.producerLimit).matches(h.run(append("s", "y", producer: producer("p0", 0, 1)))))
        #expect(!Expected.rejected(.producerLimit).matches(h.run(append("s", "y"))))
    }

    @Test func idleProducersMakeRoomAndStartOver() {
        var h = Harness()
        h.play([.run(create("s"))])
        Self.fill(&h, count: ProducerLimits.maxPerStream)
        h.play([.advance(ProducerLimits.idleExpiryMilliseconds - 1), .run(append("s", "k", producer: producer("p7", 0, 1)))])
        h.play([.advance(1)])
        let (result, effects) = h.runIsolated(append("s", "x", producer: producer("new", 0, 0)))
        #expect(Expected.appended(wrote: true, producer: Echo(0, 0)).matches(result), "\(result)")
        // Every idle producer was forgotten (their rows deleted); p7 was used recently.
        #expect(h.meta("s")?.producers.count == 2)
        #expect(effects.changedProducers.count == ProducerLimits.maxPerStream)
        // A forgotten producer is new again: it must start at seq 0.
        #expect(Expected.rejected(.producerSeqGap, expectedSeq: 0).matches(h.run(append("s", "x", producer: producer("p1", 0, 1)))))
        #expect(Expected.appended(wrote: true, producer: Echo(0, 0)).matches(h.run(append("s", "x", producer: producer("p1", 0, 0)))))
    }

    @Test func anAppendChangesOnlyItsProducer() {
        var h = Harness()
        h.play([.run(create("s"))])
        Self.fill(&h, count: 50)
        let (_, effects) = h.runIsolated(append("s", "x", producer: producer("p3", 0, 1)))
        #expect(effects.changedProducers == [.init(streamID: 1, producer: "p3")])
        let (_, plain) = h.runIsolated(append("s", "x"))
        #expect(plain.changedProducers.isEmpty)
    }

    @Test func producerIDsAreBounded() {
        var h = Harness()
        h.play([.run(create("s"))])
        let longest = String(repeating: "\u{E9}", count: Identifiers.maxProducerIDBytes / 2)
        #expect(Expected.appended(wrote: true, producer: Echo(0, 0)).matches(h.run(append("s", "x", producer: producer(longest, 0, 0)))))
        #expect(Expected.rejected(.invalidProducerID).matches(h.run(append("s", "x", producer: producer(longest + "a", 0, 0)))))
        #expect(Expected.rejected(.invalidProducerID).matches(h.run(append("s", "x", producer: producer("", 0, 0)))))
        #expect(Expected.rejected(.invalidCommand).matches(
            h.run(append("s", "x", producer: producer("q", ProducerLimits.maxNumber + 1, 0)))))
    }
}
