import Testing
@testable import StreamModel

/// Buckets (api.md §1, §2): `PUT /ds/{bucket}`, `DELETE /ds/{bucket}`, `_default`, auto-create.
@Suite struct BucketTests {
    static let scenarios: [Scenario] = [
        Scenario("create a new bucket is 201", then: .createBucket("orders"), .bucketCreated(true)),
        Scenario("create an existing bucket is 200", [.run(.createBucket("orders"))],
                 then: .createBucket("orders"), .bucketCreated(false)),
        Scenario("_default always exists", then: .createBucket(defaultBucket), .bucketCreated(false)),
        Scenario("uppercase bucket name is invalid", then: .createBucket("Orders"), .rejected(.invalidBucket)),
        Scenario("empty bucket name is invalid", then: .createBucket(""), .rejected(.invalidBucket)),
        Scenario("65-byte bucket name is invalid", then: .createBucket(String(repeating: "a", count: 65)),
                 .rejected(.invalidBucket)),
        Scenario("64-byte bucket name is valid", then: .createBucket(String(repeating: "a", count: 64)),
                 .bucketCreated(true)),
        Scenario("delete an empty bucket", [.run(.createBucket("b"))], then: .deleteBucket("b"), .bucketDeleted),
        Scenario("delete a missing bucket is 404", then: .deleteBucket("b"), .rejected(.bucketNotFound)),
        Scenario("delete twice: the second is 404", [.run(.createBucket("b")), .run(.deleteBucket("b"))],
                 then: .deleteBucket("b"), .rejected(.bucketNotFound)),
        Scenario("delete a non-empty bucket is 409",
                 [.run(.createBucket("b")), .run(create("s", bucket: "b"))],
                 then: .deleteBucket("b"), .rejected(.bucketNotEmpty)),
        Scenario("delete a bucket whose streams were all deleted",
                 [.run(.createBucket("b")), .run(create("s", bucket: "b")), .run(delete("s", bucket: "b"))],
                 then: .deleteBucket("b"), .bucketDeleted),
        Scenario("a soft-deleted stream keeps its bucket non-empty",
                 [.run(.createBucket("b")), .run(create("s", bucket: "b")),
                  .run(.create(CreateStream(path: path("f"), fork: ForkRequest(source: path("s", bucket: "b"), offset: nil)))),
                  .run(delete("s", bucket: "b"))],
                 then: .deleteBucket("b"), .rejected(.bucketNotEmpty)),
        Scenario("_default cannot be deleted", then: .deleteBucket(defaultBucket), .rejected(.bucketNotEmpty)),
        Scenario("a stream in a deleted bucket needs the bucket again",
                 [.run(.createBucket("b")), .run(.deleteBucket("b"))],
                 then: create("s", bucket: "b"), .rejected(.bucketNotFound)),
        Scenario("streams live in an explicitly created bucket",
                 [.run(.createBucket("b"))], then: create("s", bucket: "b"), .created()),
        Scenario("the same name in two buckets is two streams",
                 [.run(.createBucket("b")), .run(create("s", type: "application/json"))],
                 then: create("s", bucket: "b", type: "text/plain"), .created()),
    ]

    @Test(arguments: scenarios)
    func bucketRule(_ scenario: Scenario) {
        scenario.check()
    }

    @Test func bucketMetadataAndStreamCount() {
        var h = Harness()
        #expect(h.model.buckets[defaultBucket]?.streamCount == 0)
        h.now = t0 + 5
        h.play([.run(.createBucket("b"))])
        #expect(h.model.buckets["b"] == BucketMeta(name: "b", createdAt: t0 + 5, streamCount: 0))
        h.play([.run(create("x", bucket: "b")), .run(create("y", bucket: "b")), .run(create("z"))])
        #expect(h.model.buckets["b"]?.streamCount == 2)
        #expect(h.model.buckets[defaultBucket]?.streamCount == 1)
        h.play([.run(create("x", bucket: "b"))])  // idempotent: no new stream
        #expect(h.model.buckets["b"]?.streamCount == 2)
        h.play([.run(delete("x", bucket: "b"))])
        #expect(h.model.buckets["b"]?.streamCount == 1)
    }

    @Test func autoCreatedBucket() {
        var h = Harness()
        h.now = t0 + 7
        let (result, effects) = h.runIsolated(create("a/b", bucket: "v1", createBucket: true))
        #expect(Expected.created().matches(result))
        #expect(h.model.buckets["v1"] == BucketMeta(name: "v1", createdAt: t0 + 7, streamCount: 1))
        #expect(effects.changedBuckets == ["v1"])
        // A second stream in it does not re-create it.
        h.now += 10
        h.play([.run(create("c", bucket: "v1", createBucket: true))])
        #expect(h.model.buckets["v1"] == BucketMeta(name: "v1", createdAt: t0 + 7, streamCount: 2))
    }

    @Test func bucketEffects() {
        var h = Harness()
        let (_, created) = h.runIsolated(.createBucket("b"))
        #expect(created.changedBuckets == ["b"])
        let (_, again) = h.runIsolated(.createBucket("b"))
        #expect(again.isEmpty)
        let (_, deleted) = h.runIsolated(.deleteBucket("b"))
        #expect(deleted.changedBuckets == ["b"])
        #expect(h.model.buckets["b"] == nil)
    }
}
