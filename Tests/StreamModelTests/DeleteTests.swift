import Testing
@testable import StreamModel

/// `DELETE` and soft delete (protocol §6; §14 rows "… on a soft-deleted stream", 404s).
@Suite struct DeleteTests {
    static let scenarios: [Scenario] = [
        Scenario("delete an existing stream", [.run(create("s"))], then: delete("s"), .deleted),
        Scenario("delete a missing stream is 404", then: delete("s"), .rejected(.streamNotFound)),
        Scenario("delete twice: the second is 404", [.run(create("s")), .run(delete("s"))],
                 then: delete("s"), .rejected(.streamNotFound)),
        Scenario("delete a stream with forks: soft-deleted", [.run(create("s")), .run(fork("f", from: "s"))],
                 then: delete("s"), .deleted),
        Scenario("delete a soft-deleted stream is 410", [.run(create("s")), .run(fork("f", from: "s")), .run(delete("s"))],
                 then: delete("s"), .rejected(.streamGone)),
        Scenario("delete an expired stream is 404", [.run(create("s", expiry: .at(milliseconds: t0 + 10))), .advance(10)],
                 then: delete("s"), .rejected(.streamNotFound)),
        Scenario("delete an expired stream with forks is 410",
                 [.run(create("s", expiry: .at(milliseconds: t0 + 10))), .run(fork("f", from: "s", expiry: .ttl(seconds: 100))),
                  .advance(10)],
                 then: delete("s"), .rejected(.streamGone)),
        Scenario("delete a closed stream", [.run(create("s", closed: true))], then: delete("s"), .deleted),
        Scenario("a fork of a soft-deleted stream still takes appends",
                 [.run(create("s", body: .text("ab"))), .run(fork("f", from: "s")), .run(delete("s"))],
                 then: append("f", "c"), .appended(next: 3)),
        Scenario("a fork can be deleted while its source is soft-deleted",
                 [.run(create("s")), .run(fork("f", from: "s")), .run(delete("s"))], then: delete("f"), .deleted),
    ]

    @Test(arguments: scenarios)
    func deleteRule(_ scenario: Scenario) {
        scenario.check()
    }

    @Test func plainDeleteRemovesEverything() {
        var h = Harness()
        h.play([.run(create("s", body: .text("abc")))])
        let (result, effects) = h.runIsolated(delete("s"))
        #expect(Expected.deleted.matches(result))
        #expect(h.meta("s") == nil)
        #expect(h.model.stream(id: 1) == nil)
        #expect(effects.removedStreamIDs == [1])
        #expect(effects.changedStreams == [path("s")])
        #expect(effects.changedBuckets == [defaultBucket])
        #expect(effects.wake.contains(1))
        #expect(h.model.buckets[defaultBucket]?.streamCount == 0)
    }

    @Test func softDeleteKeepsDataForForks() {
        var h = Harness()
        h.play([.run(create("s", body: .text("abc"))), .run(fork("f", from: "s"))])
        let (_, effects) = h.runIsolated(delete("s"))
        let s = try! #require(h.meta("s"))
        #expect(s.softDeleted)
        #expect(s.forkCount == 1)
        #expect(effects.removedStreamIDs.isEmpty)
        #expect(effects.changedStreams == [path("s")])
        #expect(h.model.buckets[defaultBucket]?.streamCount == 2)
        // Its path is blocked, reads see it as soft-deleted.
        #expect(h.model.stream(at: path("s"), now: h.now)?.softDeleted == true)
        #expect(Expected.rejected(.configMismatch).matches(h.run(create("s"))))
        #expect(Expected.rejected(.forkSourceGone).matches(h.run(fork("g", from: "s"))))
        #expect(Expected.rejected(.streamGone).matches(h.run(closeOnly("s"))))
    }

    /// Protocol §6 "Cascading GC": deleting the last fork removes soft-deleted sources up the chain.
    @Test func cascadingRemovalUpAForkChain() {
        var h = Harness()
        h.play([
            .run(create("a", body: .text("1"))), .run(fork("b", from: "a")), .run(fork("c", from: "b")),
            .run(fork("other", from: "a")),
            .run(delete("a")), .run(delete("b")),
        ])
        #expect(h.meta("a")?.softDeleted == true && h.meta("b")?.softDeleted == true)
        let (_, effects) = h.runIsolated(delete("c"))
        // "b" goes with "c"; "a" stays soft-deleted for "other".
        #expect(effects.removedStreamIDs == [3, 2])
        #expect(h.meta("b") == nil && h.meta("c") == nil)
        #expect(h.meta("a")?.forkCount == 1)
        #expect(h.model.buckets[defaultBucket]?.streamCount == 2)
        let (_, last) = h.runIsolated(delete("other"))
        #expect(last.removedStreamIDs == [4, 1])
        #expect(h.model.streams.isEmpty)
        #expect(h.model.buckets[defaultBucket]?.streamCount == 0)
        // The path is free again.
        #expect(Expected.created().matches(h.run(create("a"))))
        #expect(h.meta("a")?.id == 5)
    }

    @Test func liveSourceIsNotRemovedWhenItsForkGoes() {
        var h = Harness()
        h.play([.run(create("s")), .run(fork("f", from: "s")), .run(delete("f"))])
        let s = try! #require(h.meta("s"))
        #expect(!s.softDeleted && s.forkCount == 0)
        h.play([.run(delete("s"))])
        #expect(h.model.streams.isEmpty)
    }
}
