import Testing
@testable import StreamModel

/// `PUT` of a plain stream (protocol §3; §14 rows "Create, …").
@Suite struct CreateTests {
    static let scenarios: [Scenario] = [
        Scenario("new stream is 201 at the zero offset", then: create("s"), .created(next: 0, type: "text/plain")),
        Scenario("initial body becomes the first content", then: create("s", body: .text("hello")), .created(next: 5)),
        Scenario("missing Content-Type defaults to octet-stream",
                 then: create("s", type: nil), .created(type: MediaType.octetStream)),
        Scenario("Content-Type is stored exactly as given",
                 then: create("s", type: "Application/JSON; charset=utf-8"),
                 .created(type: "Application/JSON; charset=utf-8")),
        Scenario("same config is an idempotent 200", [.run(create("s"))], then: create("s"), .existing(next: 0)),
        Scenario("idempotent 200 ignores the body and reports the tail",
                 [.run(create("s", body: .text("hello")))], then: create("s", body: .text("other")), .existing(next: 5)),
        Scenario("default type equals explicit octet-stream",
                 [.run(create("s", type: nil))], then: create("s", type: "application/octet-stream"), .existing()),
        Scenario("explicit octet-stream equals a missing type",
                 [.run(create("s", type: "application/octet-stream"))], then: create("s", type: nil), .existing()),
        Scenario("content type compared case-insensitively",
                 [.run(create("s"))], then: create("s", type: "TEXT/Plain"), .existing()),
        Scenario("content type parameters ignored",
                 [.run(create("s", type: "application/json"))], then: create("s", type: "application/json; charset=utf-8"),
                 .existing()),
        Scenario("different content type is 409",
                 [.run(create("s"))], then: create("s", type: "application/json"), .rejected(.configMismatch, next: 0)),
        Scenario("missing type on a text stream is 409",
                 [.run(create("s"))], then: create("s", type: nil), .rejected(.configMismatch)),
        Scenario("same TTL is 200",
                 [.run(create("s", expiry: .ttl(seconds: 60)))], then: create("s", expiry: .ttl(seconds: 60)), .existing()),
        Scenario("different TTL is 409",
                 [.run(create("s", expiry: .ttl(seconds: 60)))], then: create("s", expiry: .ttl(seconds: 61)),
                 .rejected(.configMismatch)),
        Scenario("TTL against none is 409",
                 [.run(create("s"))], then: create("s", expiry: .ttl(seconds: 60)), .rejected(.configMismatch)),
        Scenario("none against TTL is 409",
                 [.run(create("s", expiry: .ttl(seconds: 60)))], then: create("s"), .rejected(.configMismatch)),
        Scenario("same Expires-At is 200",
                 [.run(create("s", expiry: .at(milliseconds: t0 + 60_000)))],
                 then: create("s", expiry: .at(milliseconds: t0 + 60_000)), .existing()),
        Scenario("different Expires-At is 409",
                 [.run(create("s", expiry: .at(milliseconds: t0 + 60_000)))],
                 then: create("s", expiry: .at(milliseconds: t0 + 61_000)), .rejected(.configMismatch)),
        Scenario("Expires-At against TTL is 409",
                 [.run(create("s", expiry: .ttl(seconds: 60)))],
                 then: create("s", expiry: .at(milliseconds: t0 + 60_000)), .rejected(.configMismatch)),
        Scenario("created closed with no body: empty and closed",
                 then: create("s", closed: true), .created(next: 0, closed: true)),
        Scenario("created closed with a body: the body is the final content",
                 then: create("s", closed: true, body: .text("done")), .created(next: 4, closed: true)),
        Scenario("closed twice is 200 closed",
                 [.run(create("s", closed: true))], then: create("s", closed: true), .existing(next: 0, closed: true)),
        Scenario("open PUT on a stream created closed is 409",
                 [.run(create("s", closed: true))], then: create("s"), .rejected(.configMismatch, closed: true)),
        Scenario("closed PUT on an open stream is 409",
                 [.run(create("s"))], then: create("s", closed: true), .rejected(.configMismatch, closed: false)),
        Scenario("open PUT on a stream closed by POST is 409",
                 [.run(create("s")), .run(closeOnly("s"))], then: create("s"), .rejected(.configMismatch, closed: true)),
        Scenario("PUT on a soft-deleted path is 409",
                 [.run(create("s")), .run(fork("f", from: "s")), .run(delete("s"))],
                 then: create("s"), .rejected(.configMismatch)),
        Scenario("JSON messages for a byte stream are refused",
                 then: create("s", body: .messages("1")), .rejected(.contentTypeMismatch)),
        Scenario("a byte body for a JSON stream is refused (it would lack framing)",
                 then: create("s", type: "application/json", body: .text("1")), .rejected(.contentTypeMismatch)),
        Scenario("JSON initial body stores framed messages",
                 then: create("s", type: "application/json", body: .messages("1", "{}")),
                 .created(next: framedLength("1", "{}"))),
        Scenario("JSON [] creates an empty stream",
                 then: create("s", type: "application/json", body: .json([])), .created(next: 0)),
        Scenario("JSON mode detected with parameters",
                 then: create("s", type: "application/json; charset=utf-8", body: .messages("true")),
                 .created(next: framedLength("true"))),
        Scenario("missing bucket is 404",
                 then: create("s", bucket: "nope"), .rejected(.bucketNotFound)),
        Scenario("missing bucket auto-created on first use",
                 then: create("s", bucket: "fresh", createBucket: true), .created()),
        Scenario("an invalid bucket is never auto-created",
                 then: create("s", bucket: "Bad!", createBucket: true), .rejected(.invalidBucket)),
        Scenario("re-create after delete is 201 again",
                 [.run(create("s", body: .text("old"))), .run(delete("s"))], then: create("s"), .created(next: 0)),
        Scenario("If-Match on a missing stream is 412",
                 then: create("s", ifMatch: etag(id: 1, 0)), .rejected(.preconditionFailed)),
        Scenario("If-Match * on a missing stream is 412",
                 then: create("s", ifMatch: "*"), .rejected(.preconditionFailed)),
        Scenario("If-Match matching an existing stream is 200",
                 [.run(create("s", body: .text("abc")))], then: create("s", ifMatch: etag(id: 1, 3)), .existing(next: 3)),
        Scenario("If-Match * on an existing stream is 200",
                 [.run(create("s"))], then: create("s", ifMatch: "*"), .existing()),
        Scenario("If-Match mismatch on an existing stream is 412 with the current ETag",
                 [.run(create("s", body: .text("abc")))], then: create("s", ifMatch: etag(id: 1, 0)),
                 .rejected(.preconditionFailed, next: 3, etag: etag(id: 1, 3))),
    ]

    @Test(arguments: scenarios)
    func createRule(_ scenario: Scenario) {
        scenario.check()
    }

    @Test func createdStreamMetadata() {
        var h = Harness()
        h.run(create("s", type: "text/plain", expiry: .ttl(seconds: 5), body: .text("abc")))
        let meta = try! #require(h.meta("s"))
        #expect(meta.id == 1)
        #expect(meta.base == .zero)
        #expect(meta.tail == offset(3))
        #expect(meta.createdAt == t0 && meta.lastWriteAt == t0 && meta.lastAccessAt == t0)
        #expect(meta.expiry == .ttl(seconds: 5))
        #expect(!meta.closed && !meta.softDeleted && meta.forkCount == 0 && meta.fork == nil)
        #expect(meta.etag == etag(id: 1, 3))
        #expect(h.model.nextStreamID == 2)
    }

    @Test func recreateAfterDeleteGetsNewIdentityAndETag() {
        var h = Harness()
        h.play([.run(create("s", body: .text("abc")))])
        let first = try! #require(h.meta("s"))
        h.play([.run(delete("s")), .advance(10), .run(create("s", body: .text("abc")))])
        let second = try! #require(h.meta("s"))
        #expect(second.id != first.id)
        #expect(second.id > first.id)
        #expect(second.etag != first.etag)
        #expect(second.tail == first.tail)
        #expect(h.model.stream(id: first.id) == nil)
        #expect(h.model.stream(id: second.id)?.path == path("s"))
    }

    @Test func rejectedCreateChangesNothing() {
        var h = Harness()
        h.play([.run(create("s"))])
        let before = h.model.streams
        for command in [create("s", type: "application/json"), create("s", closed: true),
                        create("s", ifMatch: "\"nope\""), create("t", bucket: "nope"),
                        create("t", body: .messages("1"))] {
            let (result, effects) = h.runIsolated(command)
            guard case .rejected = result else {
                Issue.record("expected a rejection for \(command), got \(result)")
                continue
            }
            #expect(effects.isEmpty, "\(command)")
            #expect(h.model.streams == before)
        }
        #expect(h.model.nextStreamID == 2)
    }

    /// A create that fails must not leave behind the bucket it would have auto-created.
    @Test func rejectedCreateDoesNotAutoCreateBucket() {
        var h = Harness()
        let bad = CreateStream(path: path("f", bucket: "fresh"), contentType: "text/plain",
                               fork: ForkRequest(source: path("missing"), offset: nil), createBucket: true)
        let (result, effects) = h.runIsolated(.create(bad))
        #expect(Expected.rejected(.forkSourceNotFound).matches(result))
        #expect(h.model.buckets["fresh"] == nil)
        #expect(effects.isEmpty)
    }
}
