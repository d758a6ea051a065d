import Testing
@testable import StreamModel

/// Forks (protocol §3.1; §14 rows on fork errors).
@Suite struct ForkTests {
    /// Source "s" (text/plain, id 1) holding "hello" (0..<5) then "world" (5..<10).
    static let source: [Step] = [.run(create("s", body: .text("hello"))), .run(append("s", "world"))]

    static let scenarios: [Scenario] = [
        Scenario("fork at the default offset starts at the source's tail", source,
                 then: fork("f", from: "s"), .created(next: 10, type: "text/plain")),
        Scenario("fork at an explicit earlier offset", source,
                 then: fork("f", from: "s", at: offset(5)), .created(next: 5)),
        Scenario("fork at the zero offset", source, then: fork("f", from: "s", at: .zero), .created(next: 0)),
        Scenario("fork at exactly the tail", source, then: fork("f", from: "s", at: offset(10)), .created(next: 10)),
        Scenario("fork offset past the tail is 400", source,
                 then: fork("f", from: "s", at: offset(11)), .rejected(.forkOffsetInvalid)),
        Scenario("9999…_9999… is past the tail", source,
                 then: fork("f", from: "s", at: Offset("9999999999999999_9999999999999999")!), .rejected(.forkOffsetInvalid)),
        Scenario("a later epoch is past the tail", source,
                 then: fork("f", from: "s", at: Offset(epoch: 1, position: 0)), .rejected(.forkOffsetInvalid)),
        Scenario("missing source is 404", then: fork("f", from: "s"), .rejected(.forkSourceNotFound)),
        Scenario("deleted source is 404", source + [.run(delete("s"))],
                 then: fork("f", from: "s"), .rejected(.forkSourceNotFound)),
        Scenario("soft-deleted source is 409", source + [.run(fork("f", from: "s")), .run(delete("s"))],
                 then: fork("g", from: "s"), .rejected(.forkSourceGone)),
        Scenario("expired source is 404", [.run(create("s", expiry: .ttl(seconds: 1))), .advance(1_000)],
                 then: fork("f", from: "s"), .rejected(.forkSourceNotFound)),
        Scenario("expired source with forks is 409 (soft-deleted)",
                 [.run(create("s", expiry: .ttl(seconds: 1))), .run(fork("f", from: "s", expiry: .ttl(seconds: 100))),
                  .advance(1_000)],
                 then: fork("g", from: "s"), .rejected(.forkSourceGone)),
        Scenario("content type differing from the source is 409", source,
                 then: fork("f", from: "s", type: "application/json"), .rejected(.contentTypeMismatch)),
        Scenario("content type matching case-insensitively is fine", source,
                 then: fork("f", from: "s", type: "TEXT/plain; charset=utf-8"), .created(next: 10, type: "text/plain")),
        Scenario("the source's incarnation changed", source, then: fork("f", from: "s", sourceID: 99),
                 .rejected(.forkSourceChanged)),
        Scenario("the source's incarnation as read", source, then: fork("f", from: "s", sourceID: 1), .created(next: 10)),
        Scenario("a closed source can be forked; the fork starts open", source + [.run(closeOnly("s"))],
                 then: fork("f", from: "s"), .created(next: 10, closed: false)),
        Scenario("a fork can be created closed", source,
                 then: fork("f", from: "s", closed: true), .created(next: 10, closed: true)),
        Scenario("an initial body goes after the fork offset", source,
                 then: fork("f", from: "s", at: offset(5), body: .text("XY")), .created(next: 7)),
        Scenario("sub-offset materializes the prefix", source,
                 then: fork("f", from: "s", at: offset(5), sub: 3, prefix: utf8("wor")), .created(next: 8)),
        Scenario("sub-offset prefix then initial body (\"hel\" + \"XY\")", source,
                 then: fork("f", from: "s", at: .zero, sub: 3, prefix: utf8("hel"), body: .text("XY")), .created(next: 5)),
        Scenario("sub-offset with the default tail anchor is 400", source,
                 then: fork("f", from: "s", sub: 1, prefix: utf8("x")), .rejected(.forkSubOffsetInvalid)),
        Scenario("sub-offset on an empty source is 400", [.run(create("s"))],
                 then: fork("f", from: "s", at: .zero, sub: 1, prefix: utf8("x")), .rejected(.forkSubOffsetInvalid)),
        Scenario("sub-offset with nothing materialized (overshoot) is 400", source,
                 then: fork("f", from: "s", at: .zero, sub: 9), .rejected(.forkSubOffsetInvalid)),
        Scenario("sub-offset 0 is the same as none", source,
                 then: fork("f", from: "s", at: offset(5), sub: 0), .created(next: 5)),
        Scenario("same fork twice is 200", source + [.run(fork("f", from: "s", at: offset(5)))],
                 then: fork("f", from: "s", at: offset(5)), .existing(next: 5)),
        Scenario("same fork twice without an offset is 200, even after the source grew",
                 source + [.run(fork("f", from: "s")), .run(append("s", "more"))],
                 then: fork("f", from: "s"), .existing(next: 10)),
        Scenario("re-fork with the origin's offset given explicitly is 200", source + [.run(fork("f", from: "s"))],
                 then: fork("f", from: "s", at: offset(10)), .existing(next: 10)),
        Scenario("re-fork with another offset is 409", source + [.run(fork("f", from: "s", at: offset(5)))],
                 then: fork("f", from: "s", at: .zero), .rejected(.configMismatch)),
        Scenario("re-fork with another sub-offset is 409",
                 source + [.run(fork("f", from: "s", at: offset(5), sub: 2, prefix: utf8("wo")))],
                 then: fork("f", from: "s", at: offset(5), sub: 3, prefix: utf8("wor")), .rejected(.configMismatch)),
        Scenario("re-fork with the same sub-offset is 200",
                 source + [.run(fork("f", from: "s", at: offset(5), sub: 2, prefix: utf8("wo")))],
                 then: fork("f", from: "s", at: offset(5), sub: 2, prefix: utf8("wo")), .existing(next: 7)),
        Scenario("re-fork from another source is 409",
                 source + [.run(create("t", body: .text("0123456789"))), .run(fork("f", from: "s"))],
                 then: fork("f", from: "t"), .rejected(.configMismatch)),
        Scenario("a plain PUT on a fork's path is 409", source + [.run(fork("f", from: "s"))],
                 then: create("f"), .rejected(.configMismatch)),
        Scenario("a fork PUT on a plain stream's path is 409", source + [.run(create("f"))],
                 then: fork("f", from: "s"), .rejected(.configMismatch)),
        Scenario("a fork of a fork", source + [.run(fork("f", from: "s", at: offset(5))), .run(append("f", "abc"))],
                 then: fork("g", from: "f", at: offset(6)), .created(next: 6)),
        Scenario("a fork of a fork past the middle fork's tail is 400",
                 source + [.run(fork("f", from: "s", at: offset(5)))],
                 then: fork("g", from: "f", at: offset(6)), .rejected(.forkOffsetInvalid)),
        Scenario("a fork inherits JSON mode", [.run(create("j", type: "application/json", body: .messages("1")))],
                 then: fork("f", from: "j", body: .messages("2")), .created(next: framedLength("1", "2"),
                                                                             type: "application/json")),
        Scenario("JSON body on a fork of a byte stream is refused", source,
                 then: fork("f", from: "s", body: .messages("1")), .rejected(.contentTypeMismatch)),
        Scenario("a fork in a missing bucket is 404", source,
                 then: .create(CreateStream(path: path("f", bucket: "nope"),
                                            fork: ForkRequest(source: path("s"), offset: nil))),
                 .rejected(.bucketNotFound)),
    ]

    @Test(arguments: scenarios)
    func forkRule(_ scenario: Scenario) {
        scenario.check()
    }

    @Test func forkMetadata() {
        var h = Harness()
        h.play(Self.source + [.run(fork("f", from: "s", at: offset(5)))])
        let f = try! #require(h.meta("f"))
        let s = try! #require(h.meta("s"))
        #expect(f.id == 2)
        #expect(f.base == offset(5) && f.tail == offset(5))
        #expect(f.fork == ForkOrigin(sourceID: 1, sourcePath: path("s"), offset: offset(5), offsetGiven: true, subOffset: 0))
        #expect(f.contentType == "text/plain")
        #expect(f.producers.isEmpty && f.lastStreamSeq == nil)
        #expect(s.forkCount == 1)
        #expect(f.forkCount == 0)
        // Appends to the source and to the fork are independent.
        h.play([.run(append("s", "!")), .run(append("f", "??"))])
        #expect(h.meta("s")?.tail == offset(11))
        #expect(h.meta("f")?.tail == offset(7))
    }

    @Test func forkUnitsForSubOffsetAndBody() {
        var h = Harness()
        h.play(Self.source)
        let (result, effects) = h.runIsolated(fork("f", from: "s", at: offset(5), sub: 3, prefix: utf8("wor"),
                                                   body: .text("XY")))
        #expect(Expected.created(next: 10).matches(result))
        #expect(effects.units.map(\.streamID) == [2, 2])
        #expect(effects.units.map(\.position) == [5, 8])
        #expect(effects.units.map(\.bytes) == [utf8("wor"), utf8("XY")])
        #expect(effects.changedStreams == [path("s"), path("f")])
    }

    /// §3.1: "A rejected fork must not take a reference on the source." After a 409, deleting
    /// the source removes it for good (404, not 410).
    @Test(arguments: [
        fork("f", from: "s", type: "application/json"),
        fork("f", from: "s", body: .messages("1")),
        fork("f", from: "s", at: offset(5), sub: 3, prefix: utf8("wor"), body: .messages("1")),
        fork("f", from: "s", at: offset(99)),
        fork("f", from: "s", sub: 2, prefix: utf8("he")),
        fork("f", from: "s", sourceID: 42),
    ])
    func rejectedForkTakesNoReference(_ command: Command) {
        var h = Harness()
        h.play(Self.source)
        let (result, effects) = h.runIsolated(command)
        guard case .rejected = result else {
            Issue.record("expected a rejection, got \(result)")
            return
        }
        #expect(effects.isEmpty)
        #expect(effects.units.isEmpty)
        #expect(h.meta("s")?.forkCount == 0)
        #expect(h.meta("f") == nil)
        #expect(h.model.nextStreamID == 2)
        h.play([.run(delete("s"))])
        #expect(h.meta("s") == nil)
        #expect(Expected.rejected(.streamNotFound).matches(h.run(append("s", "x"))))
    }

    @Test func subOffsetsComposeAcrossChains() {
        var h = Harness()
        h.play(Self.source + [.run(fork("f", from: "s", at: offset(5), sub: 3, prefix: utf8("wor")))])
        // "f" owns the unit "wor" at 5..<8; a fork of it at 5 with sub-offset 2 takes "wo".
        let (result, effects) = h.runIsolated(fork("g", from: "f", at: offset(5), sub: 2, prefix: utf8("wo")))
        #expect(Expected.created(next: 7).matches(result))
        #expect(effects.units.map(\.bytes) == [utf8("wo")])
        #expect(h.meta("f")?.forkCount == 1)
        #expect(h.meta("s")?.forkCount == 1)
    }

    /// The fork TTL and expiry table of protocol §3.1 (normative).
    static let expiryTable: [(source: Expiry, request: Expiry, fork: Expiry)] = [
        (.never, .never, .never),
        (.never, .ttl(seconds: 30), .ttl(seconds: 30)),
        (.never, .at(milliseconds: t0 + 9_000), .at(milliseconds: t0 + 9_000)),
        (.ttl(seconds: 10), .never, .ttl(seconds: 10)),
        (.ttl(seconds: 10), .ttl(seconds: 99_999), .ttl(seconds: 99_999)),
        (.ttl(seconds: 10), .at(milliseconds: t0 + 99_000_000), .at(milliseconds: t0 + 99_000_000)),
        (.at(milliseconds: t0 + 9_000), .never, .at(milliseconds: t0 + 9_000)),
        (.at(milliseconds: t0 + 9_000), .ttl(seconds: 30), .ttl(seconds: 30)),
        (.at(milliseconds: t0 + 9_000), .at(milliseconds: t0 + 99_000_000), .at(milliseconds: t0 + 99_000_000)),
    ]

    @Test(arguments: expiryTable)
    func forkExpiryInheritance(_ row: (source: Expiry, request: Expiry, fork: Expiry)) {
        var h = Harness()
        h.play([.run(create("s", expiry: row.source, body: .text("abc"))), .advance(2_000),
                .run(fork("f", from: "s", expiry: row.request))])
        let f = try! #require(h.meta("f"))
        #expect(f.expiry == row.fork)
        // An inherited TTL runs on the fork's own window, started at the fork's creation.
        #expect(f.lastAccessAt == t0 + 2_000)
        // Re-PUT with the same request is idempotent.
        #expect(Expected.existing(next: 3).matches(h.run(fork("f", from: "s", expiry: row.request))))
    }

    @Test func inheritedTTLSlidesOnItsOwnWindow() {
        var h = Harness()
        h.play([.run(create("s", expiry: .ttl(seconds: 10))), .advance(5_000), .run(fork("f", from: "s"))])
        // The source expires at t0+10s; it has a fork, so it is soft-deleted, and the fork lives on.
        h.play([.advance(5_000)])
        #expect(Expected.rejected(.streamGone).matches(h.run(append("s", "x"))))
        #expect(h.meta("s")?.softDeleted == true)
        h.play([.run(append("f", "x"))])
        // The fork's own window: 10 s after its last write.
        h.play([.advance(9_999), .run(append("f", "y"))])
        h.now += 10_000
        #expect(h.model.stream(at: path("f"), now: h.now) == nil)
        // Expiring the last fork cascades into the soft-deleted source.
        #expect(Expected.expired(1).matches(h.run(.expire)))
        #expect(h.model.streams.isEmpty)
    }
}

/// `StoredUnit.prefix(of:count:json:)`, how a proposer materializes a sub-offset (§3.1).
@Suite struct StoredUnitTests {
    @Test(arguments: [
        ("hello", 0 as UInt64, "" as String?),
        ("hello", 3, "hel"),
        ("hello", 5, "hello"),
        ("hello", 6, nil),
        ("", 0, ""),
        ("", 1, nil),
    ])
    func bytePrefix(_ unit: String, _ count: UInt64, _ expected: String?) {
        #expect(StoredUnit.prefix(of: utf8(unit), count: count, json: false) == expected.map(utf8))
    }

    @Test func jsonPrefix() {
        let unit = StoredUnit.encode(.messages("1", "[2,3]", "{\"a\":4}"))
        #expect(unit.count == Int(framedLength("1", "[2,3]", "{\"a\":4}")))
        #expect(StoredUnit.prefix(of: unit, count: 0, json: true) == [])
        #expect(StoredUnit.prefix(of: unit, count: 1, json: true) == StoredUnit.encode(.messages("1")))
        #expect(StoredUnit.prefix(of: unit, count: 2, json: true) == StoredUnit.encode(.messages("1", "[2,3]")))
        #expect(StoredUnit.prefix(of: unit, count: 3, json: true) == unit)
        #expect(StoredUnit.prefix(of: unit, count: 4, json: true) == nil)
        // Damaged framing is refused rather than cut.
        #expect(StoredUnit.prefix(of: Array(unit.dropLast()), count: 1, json: true) == nil)
        #expect(StoredUnit.prefix(of: [0, 0, 0], count: 0, json: true) == nil)
    }

    @Test func encodeAndDecodeFraming() {
        #expect(StoredUnit.encode(.text("raw")) == utf8("raw"))
        let long = String(repeating: "x", count: 70_000)
        let unit = StoredUnit.encode(.json([utf8("1"), utf8("\"\(long)\"")]))
        #expect(Array(unit[0..<5]) == [0, 0, 0, 1, UInt8(ascii: "1")])
        let messages = unit.withUnsafeBytes { StoredUnit.jsonMessages($0) }
        #expect(messages?.map(\.start) == [0, 5])
        #expect(messages?.map(\.body) == [4..<5, 9..<(9 + long.utf8.count + 2)])
        #expect(StoredUnit.encode(.json([])) == [])
    }
}
