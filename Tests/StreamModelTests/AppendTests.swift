import Testing
@testable import StreamModel

/// `POST` without producers (protocol §4, §5; §14 rows "Append …", "Close-only …").
@Suite struct AppendTests {
    static let text: [Step] = [.run(create("s"))]
    static let json: [Step] = [.run(create("j", type: "application/json"))]

    static let scenarios: [Scenario] = [
        Scenario("append to a missing stream is 404", then: append("s", "x"), .rejected(.streamNotFound)),
        Scenario("append to a missing bucket is 404", then: append("s", .text("x"), bucket: "nope"),
                 .rejected(.streamNotFound)),
        Scenario("append to a soft-deleted stream is 410",
                 [.run(create("s")), .run(fork("f", from: "s")), .run(delete("s"))],
                 then: append("s", "x"), .rejected(.streamGone)),
        Scenario("close a soft-deleted stream is 410",
                 [.run(create("s")), .run(fork("f", from: "s")), .run(delete("s"))],
                 then: closeOnly("s"), .rejected(.streamGone)),
        Scenario("append to a deleted stream is 404",
                 [.run(create("s")), .run(delete("s"))], then: append("s", "x"), .rejected(.streamNotFound)),
        Scenario("plain append: 204 with the new tail, no producer echo",
                 text, then: append("s", "hello"), .appended(next: 5, wrote: true, producer: nil)),
        Scenario("appends accumulate", text + [.run(append("s", "hello"))],
                 then: append("s", "abc"), .appended(next: 8, wrote: true)),
        Scenario("empty body without close is 400", text, then: append("s", ""), .rejected(.emptyBody)),
        Scenario("empty JSON message list without close is 400", json,
                 then: append("j", .json([]), type: "application/json"), .rejected(.emptyBody)),
        Scenario("content type mismatch is 409", text,
                 then: append("s", "x", type: "application/json"), .rejected(.contentTypeMismatch)),
        Scenario("missing content type with a body is refused", text,
                 then: append("s", "x", type: nil), .rejected(.contentTypeMismatch)),
        Scenario("content type matches case-insensitively", text,
                 then: append("s", "x", type: "Text/PLAIN"), .appended(next: 1)),
        Scenario("content type parameters ignored", json,
                 then: append("j", .messages("1"), type: "application/json; charset=utf-8"),
                 .appended(next: framedLength("1"))),
        Scenario("JSON messages on a byte stream are refused", text,
                 then: append("s", .messages("1")), .rejected(.contentTypeMismatch)),
        Scenario("raw bytes on a JSON stream are refused (no framing)", json,
                 then: append("j", .text("1"), type: "application/json"), .rejected(.contentTypeMismatch)),
        Scenario("JSON append stores framed messages", json + [.run(append("j", .messages("1"), type: "application/json"))],
                 then: append("j", .messages("[1,2]", "{\"a\":1}"), type: "application/json"),
                 .appended(next: framedLength("1", "[1,2]", "{\"a\":1}"))),
        Scenario("close-only: 204, tail unchanged, closed",
                 text + [.run(append("s", "abc"))], then: closeOnly("s"), .appended(next: 3, closed: true, wrote: false)),
        Scenario("close-only ignores a mismatched content type",
                 text, then: closeOnly("s", type: "image/png"), .appended(next: 0, closed: true, wrote: false)),
        Scenario("close-only is idempotent",
                 text + [.run(closeOnly("s"))], then: closeOnly("s"), .appended(next: 0, closed: true, wrote: false)),
        Scenario("close-only on a stream created closed",
                 [.run(create("s", closed: true, body: .text("ab")))], then: closeOnly("s"),
                 .appended(next: 2, closed: true, wrote: false)),
        Scenario("close-only on a missing stream is 404", then: closeOnly("s"), .rejected(.streamNotFound)),
        Scenario("append-and-close", text, then: append("s", "bye", close: true),
                 .appended(next: 3, closed: true, wrote: true)),
        Scenario("append to a closed stream is 409 with the final offset",
                 text + [.run(append("s", "abcd")), .run(closeOnly("s"))],
                 then: append("s", "x"), .rejected(.streamClosed, next: 4, closed: true)),
        Scenario("append-and-close on a closed stream is 409 (not idempotent)",
                 text + [.run(append("s", "bye", close: true))],
                 then: append("s", "bye", close: true), .rejected(.streamClosed, next: 3, closed: true)),
        Scenario("closed wins over content-type mismatch",
                 text + [.run(closeOnly("s"))], then: append("s", "x", type: "application/json"),
                 .rejected(.streamClosed, closed: true)),
        Scenario("content-type mismatch wins over a Stream-Seq regression",
                 text + [.run(append("s", "x", seq: "5"))], then: append("s", "y", type: "image/png", seq: "1"),
                 .rejected(.contentTypeMismatch)),
        Scenario("append to an expired stream is 404",
                 [.run(create("s", expiry: .ttl(seconds: 1))), .advance(1_000)], then: append("s", "x"),
                 .rejected(.streamNotFound)),
    ]

    @Test(arguments: scenarios)
    func appendRule(_ scenario: Scenario) {
        scenario.check()
    }

    /// `Stream-Seq` compares bytewise and lexicographically (protocol §2.1).
    static let streamSeqScenarios: [Scenario] = [
        Scenario("first Stream-Seq is accepted", text, then: append("s", "x", seq: "anything"), .appended(next: 1)),
        Scenario("\"2\" then \"10\" is a regression", text + [.run(append("s", "x", seq: "2"))],
                 then: append("s", "y", seq: "10"), .rejected(.streamSeqConflict)),
        Scenario("\"09\" then \"10\" is fine", text + [.run(append("s", "x", seq: "09"))],
                 then: append("s", "y", seq: "10"), .appended(next: 2)),
        Scenario("\"a\" then \"B\" is a regression", text + [.run(append("s", "x", seq: "a"))],
                 then: append("s", "y", seq: "B"), .rejected(.streamSeqConflict)),
        Scenario("\"B\" then \"a\" is fine", text + [.run(append("s", "x", seq: "B"))],
                 then: append("s", "y", seq: "a"), .appended(next: 2)),
        Scenario("a duplicate is rejected", text + [.run(append("s", "x", seq: "a"))],
                 then: append("s", "y", seq: "a"), .rejected(.streamSeqConflict)),
        Scenario("a proper prefix sorts first", text + [.run(append("s", "x", seq: "ab"))],
                 then: append("s", "y", seq: "abc"), .appended(next: 2)),
        Scenario("a longer value can be smaller", text + [.run(append("s", "x", seq: "b"))],
                 then: append("s", "y", seq: "abc"), .rejected(.streamSeqConflict)),
        Scenario("bytes, not characters: \"z\" (7A) < \"é\" (C3 A9)", text + [.run(append("s", "x", seq: "z"))],
                 then: append("s", "y", seq: "é"), .appended(next: 2)),
        Scenario("bytes, not characters: \"é\" then \"z\" is a regression", text + [.run(append("s", "x", seq: "é"))],
                 then: append("s", "y", seq: "z"), .rejected(.streamSeqConflict)),
        Scenario("appends without Stream-Seq do not reset it",
                 text + [.run(append("s", "x", seq: "5")), .run(append("s", "y"))],
                 then: append("s", "z", seq: "5"), .rejected(.streamSeqConflict)),
        Scenario("a rejected append does not record its Stream-Seq",
                 text + [.reject(append("s", "x", type: "image/png", seq: "5"), .contentTypeMismatch)],
                 then: append("s", "y", seq: "5"), .appended(next: 1)),
        Scenario("Stream-Seq on close-only is checked too", text + [.run(append("s", "x", seq: "5"))],
                 then: closeOnly("s", seq: "4"), .rejected(.streamSeqConflict)),
        Scenario("Stream-Seq is per stream",
                 text + [.run(create("t")), .run(append("s", "x", seq: "5"))],
                 then: append("t", "y", seq: "1"), .appended(next: 1)),
    ]

    @Test(arguments: streamSeqScenarios)
    func streamSeqRule(_ scenario: Scenario) {
        scenario.check()
    }

    /// `If-Match` on `POST` (api.md §2).
    static let ifMatchScenarios: [Scenario] = [
        Scenario("matching ETag appends", text + [.run(append("s", "abc"))],
                 then: append("s", "d", ifMatch: etag(id: 1, 3)), .appended(next: 4)),
        Scenario("stale ETag is 412 with the current ETag and tail", text + [.run(append("s", "abc"))],
                 then: append("s", "d", ifMatch: etag(id: 1, 0)),
                 .rejected(.preconditionFailed, next: 3, closed: false, etag: etag(id: 1, 3))),
        Scenario("* matches any existing stream", text, then: append("s", "d", ifMatch: "*"), .appended(next: 1)),
        Scenario("a list matches if any member does", text,
                 then: append("s", "d", ifMatch: "\"x\", \(etag(id: 1, 0))"), .appended(next: 1)),
        Scenario("an ETag of an earlier incarnation does not match",
                 [.run(create("s")), .run(delete("s")), .run(create("s"))],
                 then: append("s", "d", ifMatch: etag(id: 1, 0)), .rejected(.preconditionFailed, etag: etag(id: 2, 0))),
        Scenario("closure changes the ETag", text + [.run(closeOnly("s"))],
                 then: closeOnly("s", ifMatch: etag(id: 1, 0)),
                 .rejected(.preconditionFailed, closed: true, etag: etag(id: 1, 0, closed: true))),
        Scenario("closed ETag matches a close retry", text + [.run(closeOnly("s"))],
                 then: closeOnly("s", ifMatch: etag(id: 1, 0, closed: true)), .appended(next: 0, closed: true, wrote: false)),
        Scenario("If-Match on a missing stream is 404", then: append("s", "x", ifMatch: "*"), .rejected(.streamNotFound)),
    ]

    @Test(arguments: ifMatchScenarios)
    func ifMatchRule(_ scenario: Scenario) {
        scenario.check()
    }

    @Test func offsetsStrictlyIncrease() {
        var h = Harness()
        h.play([.run(create("s")), .run(create("j", type: "application/json"))])
        var previous: [String: Offset] = ["s": .zero, "j": .zero]
        for i in 1...200 {
            let name = i % 3 == 0 ? "j" : "s"
            let command = name == "j"
                ? append("j", .json(FramedMessages((0..<(i % 4 + 1)).map { utf8("\($0)") })), type: "application/json")
                : append("s", String(repeating: "x", count: i % 7 + 1))
            guard case .appended(let outcome) = h.run(command) else {
                Issue.record("append \(i) rejected")
                return
            }
            #expect(outcome.nextOffset > previous[name]!)
            // The textual form sorts the same way as the offsets do (protocol §8.1).
            #expect(outcome.nextOffset.description > previous[name]!.description)
            previous[name] = outcome.nextOffset
        }
    }

    @Test func appendRenewsTimestamps() {
        var h = Harness()
        h.play([.run(create("s", expiry: .ttl(seconds: 60))), .advance(500), .run(append("s", "x"))])
        let meta = try! #require(h.meta("s"))
        #expect(meta.lastWriteAt == t0 + 500)
        #expect(meta.lastAccessAt == t0 + 500)
        #expect(meta.createdAt == t0)
    }

    @Test func rejectedAppendsChangeNothing() {
        var h = Harness()
        h.play([.run(create("s")), .run(append("s", "abc", producer: producer("p", 1, 0), seq: "m"))])
        let before = h.model.streams
        let rejected: [Command] = [
            append("s", "x", type: "image/png"),
            append("s", "", producer: producer("p", 1, 1)),
            append("s", "x", producer: producer("p", 0, 1)),
            append("s", "x", producer: producer("p", 1, 5)),
            append("s", "x", producer: producer("p", 2, 1)),
            append("s", "x", producer: producer("p", 1, 1), seq: "a"),
            append("s", "x", ifMatch: "\"stale\""),
            append("s", .messages("1")),
            append("t", "x"),
        ]
        for command in rejected {
            let (result, effects) = h.runIsolated(command)
            guard case .rejected = result else {
                Issue.record("expected a rejection for \(command), got \(result)")
                continue
            }
            #expect(effects.isEmpty, "\(command)")
            #expect(h.model.streams == before, "\(command)")
        }
    }
}
