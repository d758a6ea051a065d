import Testing
@testable import StreamModel

/// Idempotent producers (protocol §4.1; §14 rows "Producer …", "Stale producer epoch",
/// "New epoch with seq ≠ 0").
@Suite struct ProducerTests {
    static let open: [Step] = [.run(create("s"))]
    /// Producer `p` at epoch 0 has sent seqs 0, 1, 2 ("a", "b", "c").
    static let sent3: [Step] = open + [
        .run(append("s", "a", producer: producer("p", 0, 0))),
        .run(append("s", "b", producer: producer("p", 0, 1))),
        .run(append("s", "c", producer: producer("p", 0, 2))),
    ]
    /// `p` (epoch 0, seq 1) closed the stream with a final "z" after "a".
    static let closedByP: [Step] = open + [
        .run(append("s", "a", producer: producer("p", 0, 0))),
        .run(append("s", "z", close: true, producer: producer("p", 0, 1))),
    ]

    static let scenarios: [Scenario] = [
        Scenario("new producer at seq 0: 200 echoing the tuple", open,
                 then: append("s", "a", producer: producer("p", 0, 0)),
                 .appended(next: 1, wrote: true, producer: Echo(0, 0))),
        Scenario("new producer may start at any epoch with seq 0", open,
                 then: append("s", "a", producer: producer("p", 7, 0)), .appended(next: 1, producer: Echo(7, 0))),
        Scenario("new producer with seq ≠ 0 is a gap expecting 0", open,
                 then: append("s", "a", producer: producer("p", 0, 3)),
                 .rejected(.producerSeqGap, expectedSeq: 0, receivedSeq: 3)),
        Scenario("next seq is accepted", sent3,
                 then: append("s", "d", producer: producer("p", 0, 3)), .appended(next: 4, producer: Echo(0, 3))),
        Scenario("duplicate returns the highest accepted seq, writes nothing", sent3,
                 then: append("s", "a", producer: producer("p", 0, 1)),
                 .appended(next: 3, duplicate: true, wrote: false, producer: Echo(0, 2))),
        Scenario("duplicate of the latest seq", sent3,
                 then: append("s", "c", producer: producer("p", 0, 2)),
                 .appended(next: 3, duplicate: true, wrote: false, producer: Echo(0, 2))),
        Scenario("gap carries expected and received", sent3,
                 then: append("s", "x", producer: producer("p", 0, 5)),
                 .rejected(.producerSeqGap, expectedSeq: 3, receivedSeq: 5)),
        Scenario("stale epoch is 403 with the current epoch",
                 open + [.run(append("s", "a", producer: producer("p", 2, 0)))],
                 then: append("s", "b", producer: producer("p", 1, 1)), .rejected(.producerStaleEpoch, currentEpoch: 2)),
        Scenario("stale epoch even with seq 0",
                 open + [.run(append("s", "a", producer: producer("p", 2, 0)))],
                 then: append("s", "b", producer: producer("p", 0, 0)), .rejected(.producerStaleEpoch, currentEpoch: 2)),
        Scenario("new epoch with seq 0 is accepted", sent3,
                 then: append("s", "d", producer: producer("p", 1, 0)), .appended(next: 4, producer: Echo(1, 0))),
        Scenario("new epoch with seq ≠ 0 is 400", sent3,
                 then: append("s", "d", producer: producer("p", 1, 3)), .rejected(.producerEpochSeq)),
        Scenario("after a new epoch its seq restarts at 0",
                 sent3 + [.run(append("s", "d", producer: producer("p", 1, 0)))],
                 then: append("s", "e", producer: producer("p", 1, 1)), .appended(next: 5, producer: Echo(1, 1))),
        Scenario("after a new epoch a retry of its seq 0 is a duplicate",
                 sent3 + [.run(append("s", "d", producer: producer("p", 1, 0)))],
                 then: append("s", "d", producer: producer("p", 1, 0)),
                 .appended(next: 4, duplicate: true, producer: Echo(1, 0))),
        Scenario("after a new epoch the old epoch is stale",
                 sent3 + [.run(append("s", "d", producer: producer("p", 1, 0)))],
                 then: append("s", "x", producer: producer("p", 0, 3)), .rejected(.producerStaleEpoch, currentEpoch: 1)),
        Scenario("producers are independent", sent3,
                 then: append("s", "q", producer: producer("q", 0, 0)), .appended(next: 4, producer: Echo(0, 0))),
        Scenario("producer append mixed with plain appends", sent3 + [.run(append("s", "plain"))],
                 then: append("s", "d", producer: producer("p", 0, 3)), .appended(next: 9, producer: Echo(0, 3))),
        Scenario("a rejected append does not advance the producer",
                 open + [.run(append("s", "a", producer: producer("p", 0, 0))),
                         .reject(append("s", "b", type: "image/png", producer: producer("p", 0, 1)), .contentTypeMismatch)],
                 then: append("s", "b", producer: producer("p", 0, 1)),
                 .appended(next: 2, duplicate: false, wrote: true, producer: Echo(0, 1))),
        Scenario("a Stream-Seq conflict does not advance the producer",
                 open + [.run(append("s", "a", producer: producer("p", 0, 0), seq: "5")),
                         .reject(append("s", "b", producer: producer("p", 0, 1), seq: "4"), .streamSeqConflict)],
                 then: append("s", "b", producer: producer("p", 0, 1), seq: "6"), .appended(next: 2, producer: Echo(0, 1))),
        Scenario("a rejected new epoch does not move the epoch",
                 sent3 + [.reject(append("s", "x", producer: producer("p", 1, 4)), .producerEpochSeq)],
                 then: append("s", "d", producer: producer("p", 0, 3)), .appended(next: 4, producer: Echo(0, 3))),
        Scenario("producer duplicate with the same Stream-Seq is a duplicate, not a conflict",
                 open + [.run(append("s", "a", producer: producer("p", 0, 0), seq: "001"))],
                 then: append("s", "a", producer: producer("p", 0, 0), seq: "001"),
                 .appended(next: 1, duplicate: true, producer: Echo(0, 0))),
        Scenario("producer close-only: 204 sequenced, closed", sent3,
                 then: closeOnly("s", producer: producer("p", 0, 3)),
                 .appended(next: 3, closed: true, wrote: false, producer: Echo(0, 3))),
        Scenario("producer append-and-close: 200 closed", sent3,
                 then: append("s", "end", close: true, producer: producer("p", 0, 3)),
                 .appended(next: 6, closed: true, wrote: true, producer: Echo(0, 3))),
        Scenario("retry of the closing tuple is a duplicate, closed", closedByP,
                 then: append("s", "z", close: true, producer: producer("p", 0, 1)),
                 .appended(next: 2, closed: true, duplicate: true, wrote: false, producer: Echo(0, 1))),
        Scenario("retry of the closing tuple with another body keeps the original", closedByP,
                 then: append("s", "other body", close: true, producer: producer("p", 0, 1)),
                 .appended(next: 2, closed: true, duplicate: true, wrote: false, producer: Echo(0, 1))),
        Scenario("retry of a close-only tuple",
                 open + [.run(closeOnly("s", producer: producer("p", 0, 0)))],
                 then: closeOnly("s", producer: producer("p", 0, 0)),
                 .appended(next: 0, closed: true, duplicate: true, wrote: false, producer: Echo(0, 0))),
        Scenario("same producer, next seq, on the closed stream is 409", closedByP,
                 then: append("s", "x", producer: producer("p", 0, 2)), .rejected(.streamClosed, next: 2, closed: true)),
        Scenario("another producer on the closed stream is 409", closedByP,
                 then: append("s", "x", producer: producer("q", 0, 0)), .rejected(.streamClosed, next: 2, closed: true)),
        Scenario("another producer's close-only on the closed stream is 409", closedByP,
                 then: closeOnly("s", producer: producer("q", 0, 0)), .rejected(.streamClosed, closed: true)),
        Scenario("a plain append-and-close on a producer-closed stream is 409", closedByP,
                 then: append("s", "z", close: true), .rejected(.streamClosed, closed: true)),
        Scenario("a plain close-only on a producer-closed stream is fine", closedByP,
                 then: closeOnly("s"), .appended(next: 2, closed: true, wrote: false)),
        Scenario("producer state is not inherited by a fork",
                 sent3 + [.run(fork("f", from: "s"))],
                 then: append("f", "a", producer: producer("p", 0, 0)),
                 .appended(next: 4, duplicate: false, wrote: true, producer: Echo(0, 0))),
    ]

    @Test(arguments: scenarios)
    func producerRule(_ scenario: Scenario) {
        scenario.check()
    }

    @Test func producerStateIsRecorded() {
        var h = Harness()
        h.play(Self.sent3 + [.run(append("s", "d", producer: producer("q", 4, 0)))])
        let meta = try! #require(h.meta("s"))
        #expect(meta.producers["p"] == ProducerState(epoch: 0, lastSeq: 2, lastUsedAt: t0))
        #expect(meta.producers["q"] == ProducerState(epoch: 4, lastSeq: 0, lastUsedAt: t0))
        h.play([.run(append("s", "e", close: true, producer: producer("q", 4, 1)))])
        #expect(h.meta("s")?.closedBy == producer("q", 4, 1))
        #expect(h.meta("s")?.producers["q"] == ProducerState(epoch: 4, lastSeq: 1, lastUsedAt: t0))
    }

    @Test func duplicateWritesNoUnits() {
        var h = Harness()
        h.play(Self.sent3)
        let (_, effects) = h.runIsolated(append("s", "a", producer: producer("p", 0, 0)))
        #expect(effects.units.isEmpty)
    }
}
