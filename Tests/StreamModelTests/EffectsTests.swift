import Testing
@testable import StreamModel

/// `ApplyEffects`: what the storage layer persists and whom it wakes.
@Suite struct EffectsTests {
    @Test func createWithBodyWritesOneUnitAtZero() {
        var h = Harness()
        let (_, effects) = h.runIsolated(create("s", body: .text("hello")))
        #expect(effects.units.count == 1)
        #expect(effects.units.first?.streamID == 1)
        #expect(effects.units.first?.position == 0)
        #expect(effects.units.first?.bytes == utf8("hello"))
        #expect(effects.changedStreams == [path("s")])
        #expect(effects.changedBuckets == [defaultBucket])
        #expect(effects.removedStreamIDs.isEmpty)
        #expect(effects.wake == [1])
    }

    @Test func createWithoutBodyWritesNoUnit() {
        var h = Harness()
        let (_, effects) = h.runIsolated(create("s"))
        #expect(effects.units.isEmpty)
        #expect(effects.changedStreams == [path("s")])
        let (_, again) = h.runIsolated(create("s"))
        #expect(again.isEmpty)
    }

    @Test func appendsWriteAtThePreviousTail() {
        var h = Harness()
        h.play([.run(create("s", body: .text("abc")))])
        var positions: [UInt64] = []
        for text in ["d", "efgh", "ij"] {
            let (_, effects) = h.runIsolated(append("s", text))
            #expect(effects.units.count == 1)
            #expect(effects.units.first?.bytes == utf8(text))
            #expect(effects.changedStreams == [path("s")])
            #expect(effects.wake == [1])
            positions += effects.units.map(\.position)
        }
        #expect(positions == [3, 4, 8])
        #expect(h.meta("s")?.tail == offset(10))
    }

    @Test func jsonAppendWritesOneFramedUnit() {
        var h = Harness()
        h.play([.run(create("j", type: "application/json", body: .messages("0")))])
        let (_, effects) = h.runIsolated(append("j", .messages("1", "[2]"), type: "application/json"))
        #expect(effects.units.count == 1)
        #expect(effects.units.first?.position == framedLength("0"))
        #expect(effects.units.first?.bytes == [0, 0, 0, 1, UInt8(ascii: "1"), 0, 0, 0, 3] + utf8("[2]"))
    }

    @Test func closeOnlyWritesNoUnitButWakes() {
        var h = Harness()
        h.play([.run(create("s", body: .text("abc")))])
        let (_, effects) = h.runIsolated(closeOnly("s"))
        #expect(effects.units.isEmpty)
        #expect(effects.changedStreams == [path("s")])
        #expect(effects.wake == [1])
        let (_, again) = h.runIsolated(closeOnly("s"))
        #expect(again.isEmpty)
    }

    @Test func appendAndCloseWritesThenCloses() {
        var h = Harness()
        h.play([.run(create("s"))])
        let (_, effects) = h.runIsolated(append("s", "end", close: true))
        #expect(effects.units.map(\.bytes) == [utf8("end")])
        #expect(h.meta("s")?.closed == true)
    }

    @Test func removalListsTheID() {
        var h = Harness()
        h.play([.run(create("a")), .run(create("b"))])
        let (_, effects) = h.runIsolated(delete("b"))
        #expect(effects.removedStreamIDs == [2])
        #expect(effects.changedStreams == [path("b")])
        #expect(effects.units.isEmpty)
    }

    @Test func effectsAccumulateAcrossCommands() {
        var h = Harness()
        h.play([.run(create("s", body: .text("ab"))), .run(append("s", "c")), .run(create("t")), .run(delete("t"))])
        #expect(h.effects.units.map(\.position) == [0, 2])
        #expect(h.effects.changedStreams == [path("s"), path("t")])
        #expect(h.effects.removedStreamIDs == [2])
        #expect(!h.effects.isEmpty)
        #expect(ApplyEffects().isEmpty)
    }

    /// Persisting `changedStreams` and rebuilding gives back the same model.
    @Test func rebuildFromPersistedMetadata() {
        var h = Harness()
        h.play([
            .run(.createBucket("b")), .run(create("s", bucket: "b", body: .text("ab"))),
            .run(create("t", body: .text("xyz"))), .run(fork("f", from: "t")), .run(delete("t")),
            .run(create("gone")), .run(delete("gone")),
        ])
        var rebuilt = StreamModel(buckets: Array(h.model.buckets.values), streams: Array(h.model.streams.values),
                                  nextStreamID: h.model.nextStreamID)
        #expect(rebuilt.streams == h.model.streams)
        #expect(rebuilt.buckets == h.model.buckets)
        #expect(rebuilt.nextStreamID == h.model.nextStreamID)
        #expect(rebuilt.stream(id: 3)?.path == path("f"))
        // Both continue identically, cascade included.
        var a = ApplyEffects()
        var b = ApplyEffects()
        #expect(h.model.apply(delete("f"), now: t0, effects: &a) == rebuilt.apply(delete("f"), now: t0, effects: &b))
        #expect(a.removedStreamIDs == [3, 2] && b.removedStreamIDs == [3, 2])
        #expect(rebuilt.streams == h.model.streams)
        // A stale `nextStreamID` is raised past every id in use.
        let stale = StreamModel(buckets: [], streams: Array(h.model.streams.values), nextStreamID: 1)
        #expect(stale.nextStreamID == (h.model.streams.values.map(\.id).max() ?? 0) + 1)
    }
}
