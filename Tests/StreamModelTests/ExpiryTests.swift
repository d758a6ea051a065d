import Testing
@testable import StreamModel

/// `Stream-TTL` and `Stream-Expires-At` (protocol §10), applied lazily by later commands and
/// by the `.expire` sweep.
@Suite struct ExpiryTests {
    static let ttl10: [Step] = [.run(create("s", expiry: .ttl(seconds: 10)))]
    static let at10: [Step] = [.run(create("s", expiry: .at(milliseconds: t0 + 10_000)))]

    static let scenarios: [Scenario] = [
        Scenario("TTL: alive one millisecond before the deadline", ttl10 + [.advance(9_999)],
                 then: append("s", "x"), .appended(next: 1)),
        Scenario("TTL: expired at exactly the deadline", ttl10 + [.advance(10_000)],
                 then: append("s", "x"), .rejected(.streamNotFound)),
        Scenario("TTL: an append renews the window", ttl10 + [.advance(6_000), .run(append("s", "a")), .advance(9_999)],
                 then: append("s", "b"), .appended(next: 2)),
        Scenario("TTL: the renewed window also ends", ttl10 + [.advance(6_000), .run(append("s", "a")), .advance(10_000)],
                 then: append("s", "b"), .rejected(.streamNotFound)),
        Scenario("TTL: a touch renews the window", ttl10 + [.advance(6_000), .run(.touch([path("s")])), .advance(9_999)],
                 then: append("s", "b"), .appended(next: 1)),
        Scenario("TTL: a close-only renews the window", ttl10 + [.advance(6_000), .run(closeOnly("s")), .advance(9_999)],
                 then: closeOnly("s"), .appended(next: 0, closed: true)),
        Scenario("TTL: 0 seconds expires at once", [.run(create("s", expiry: .ttl(seconds: 0)))],
                 then: append("s", "x"), .rejected(.streamNotFound)),
        Scenario("TTL: huge values never overflow into expiry",
                 [.run(create("s", expiry: .ttl(seconds: .max))), .advance(Int64.max - t0)],
                 then: append("s", "x"), .appended(next: 1)),
        Scenario("Expires-At: alive before", at10 + [.advance(9_999)], then: append("s", "x"), .appended(next: 1)),
        Scenario("Expires-At: expired at the deadline", at10 + [.advance(10_000)],
                 then: append("s", "x"), .rejected(.streamNotFound)),
        Scenario("Expires-At: appends do not extend it", at10 + [.advance(9_000), .run(append("s", "a")), .advance(1_000)],
                 then: append("s", "x"), .rejected(.streamNotFound)),
        Scenario("Expires-At: touches do not extend it", at10 + [.advance(9_000), .run(.touch([path("s")])), .advance(1_000)],
                 then: append("s", "x"), .rejected(.streamNotFound)),
        Scenario("Expires-At in the past: expired at once", [.run(create("s", expiry: .at(milliseconds: t0 - 1)))],
                 then: append("s", "x"), .rejected(.streamNotFound)),
        Scenario("an expired path can be re-created", ttl10 + [.advance(10_000)],
                 then: create("s", expiry: .ttl(seconds: 10)), .created(next: 0)),
        Scenario("an expired path re-created with another config is 201, not 409", ttl10 + [.advance(10_000)],
                 then: create("s", type: "application/json"), .created(next: 0)),
        Scenario("expired with forks: soft-deleted (410)",
                 ttl10 + [.run(fork("f", from: "s", expiry: .never)), .run(fork("g", from: "s", expiry: .ttl(seconds: 60))),
                          .advance(10_000)],
                 then: append("s", "x"), .rejected(.streamGone)),
        Scenario("expired with forks: PUT on the path is 409",
                 ttl10 + [.run(fork("f", from: "s", expiry: .ttl(seconds: 60))), .advance(10_000)],
                 then: create("s", expiry: .ttl(seconds: 10)), .rejected(.configMismatch)),
        Scenario("the sweep counts what it expired",
                 ttl10 + [.run(create("t", expiry: .at(milliseconds: t0 + 5))), .run(create("u")),
                          .run(create("v", expiry: .ttl(seconds: 60))), .advance(10_000)],
                 then: .expire, .expired(2)),
        Scenario("a sweep with nothing due", ttl10, then: .expire, .expired(0)),
        Scenario("a touch of missing paths is harmless", then: .touch([path("nope"), path("x", bucket: "nope")]), .touched),
    ]

    @Test(arguments: scenarios)
    func expiryRule(_ scenario: Scenario) {
        scenario.check()
    }

    @Test func expiryIsLazyUntilALaterCommand() {
        var h = Harness()
        h.play([.run(create("s", expiry: .ttl(seconds: 1), body: .text("abc"))), .run(create("other"))])
        h.now += 5_000
        // Nothing happened yet: the row is still there, though reads no longer see it.
        #expect(h.meta("s") != nil)
        #expect(h.model.stream(at: path("s"), now: h.now) == nil)
        #expect(h.model.stream(at: path("s"), now: h.now - 4_001) != nil)
        // An unrelated command does not expire it...
        let (_, unrelated) = h.runIsolated(append("other", "x"))
        #expect(unrelated.removedStreamIDs.isEmpty)
        #expect(h.meta("s") != nil)
        // ...a command on its path does, and the path is created anew.
        let (result, effects) = h.runIsolated(create("s", expiry: .ttl(seconds: 1)))
        #expect(Expected.created(next: 0).matches(result))
        #expect(effects.removedStreamIDs == [1])
        #expect(h.meta("s")?.id == 3)
        #expect(h.model.buckets[defaultBucket]?.streamCount == 2)
    }

    @Test func sweepRemovesAndSoftDeletes() {
        var h = Harness()
        h.play([
            .run(create("a", expiry: .ttl(seconds: 1))),
            .run(create("b", expiry: .ttl(seconds: 1))),
            .run(fork("fb", from: "b", expiry: .ttl(seconds: 100))),
            .run(create("c")),
            .advance(1_000),
        ])
        let (result, effects) = h.runIsolated(.expire)
        #expect(Expected.expired(2).matches(result))
        #expect(effects.removedStreamIDs == [1])
        #expect(h.meta("a") == nil)
        #expect(h.meta("b")?.softDeleted == true)
        #expect(h.meta("c") != nil && h.meta("fb") != nil)
        #expect(effects.changedStreams == [path("a"), path("b")])
        // Soft-deleted streams are not expired again.
        #expect(Expected.expired(0).matches(h.run(.expire)))
        // When the fork expires the source goes with it.
        h.now += 100_000
        let (last, lastEffects) = h.runIsolated(.expire)
        #expect(Expected.expired(1).matches(last))
        #expect(lastEffects.removedStreamIDs == [3, 2])
        #expect(Set(h.model.streams.keys) == [path("c")])
    }

    @Test func sweepOfAWholeExpiredChain() {
        var h = Harness()
        h.play([
            .run(create("a", expiry: .ttl(seconds: 1))), .run(fork("b", from: "a")), .run(fork("c", from: "b")),
            .advance(1_000),
        ])
        #expect(Expected.expired(3).matches(h.run(.expire)))
        #expect(h.model.streams.isEmpty)
        #expect(h.model.buckets[defaultBucket]?.streamCount == 0)
    }

    @Test func touchRenewsOnlySlidingTTLs() {
        var h = Harness()
        h.play([
            .run(create("ttl", expiry: .ttl(seconds: 10))), .run(create("at", expiry: .at(milliseconds: t0 + 10_000))),
            .run(create("never")), .advance(3_000),
        ])
        let (result, effects) = h.runIsolated(.touch([path("ttl"), path("at"), path("never"), path("missing")]))
        #expect(Expected.touched.matches(result))
        #expect(effects.changedStreams == [path("ttl")])
        #expect(h.meta("ttl")?.lastAccessAt == t0 + 3_000)
        #expect(h.meta("at")?.lastAccessAt == t0)
        // Touching twice at the same time changes nothing the second time.
        let (_, again) = h.runIsolated(.touch([path("ttl")]))
        #expect(again.isEmpty)
    }

    @Test func touchExpiresWhatIsDue() {
        var h = Harness()
        h.play([.run(create("s", expiry: .ttl(seconds: 1))), .advance(1_000)])
        let (_, effects) = h.runIsolated(.touch([path("s")]))
        #expect(effects.removedStreamIDs == [1])
        #expect(h.meta("s") == nil)
    }

    @Test(arguments: [
        (Expiry.never, Int64.max, false),
        (.ttl(seconds: 1), 999, false),
        (.ttl(seconds: 1), 1_000, true),
        (.ttl(seconds: UInt64(Int64.max / 1000)), Int64.max, false),
        (.ttl(seconds: UInt64(Int64.max / 1000) + 1), Int64.max, false),
        (.at(milliseconds: t0 + 5), 4, false),
        (.at(milliseconds: t0 + 5), 5, true),
    ])
    func isExpired(_ expiry: Expiry, _ elapsed: Int64, _ expired: Bool) {
        var h = Harness()
        h.play([.run(create("s", expiry: expiry))])
        let meta = try! #require(h.meta("s"))
        let now = elapsed > Int64.max - t0 ? Int64.max : t0 + elapsed
        #expect(meta.isExpired(at: now) == expired)
    }
}
