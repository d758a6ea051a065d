import Testing
@testable import StreamModel

/// Per-bucket stored-bytes limits (issue 17 "Quotas", docs/access-control.md "Bucket storage
/// limit"): what counts, when a write is refused, and how space is freed.
@Suite struct BucketQuotaTests {
    static let bucket = "q"

    static func limit(_ bytes: UInt64?, bucket: String = bucket) -> Command {
        .setBucketLimit(bucket, maxStoredBytes: bytes)
    }

    /// What the bucket stores, recomputed from its rows and uploads (what the counter must equal).
    static func recomputed(_ model: StreamModel, _ bucket: String) -> UInt64 {
        var total: UInt64 = 0
        for meta in model.streams.values where meta.path.bucket == bucket {
            total += meta.bytesStored + meta.snapshotBytes
        }
        for upload in model.uploads.values where model.stream(id: upload.streamID)?.path.bucket == bucket {
            total += upload.size
        }
        return total
    }

    /// Starts an upload of `bytes` on stream `name` of `bucket`; returns the chunk's result.
    static func chunk(_ h: inout Harness, _ name: String, bucket: String = bucket, blob: UInt64? = nil, index: UInt32 = 0,
                      _ bytes: [UInt8]) -> CommandResult {
        let target = path(name, bucket: bucket)
        let id = h.model.streams[target]?.id ?? 0
        return h.run(.snapshotChunk(SnapshotChunk(path: target, streamID: id, blobID: blob, index: index, bytes: bytes)))
    }

    /// Publishes blob `blob` of `size` bytes at `at` on stream `name`.
    static func publish(_ h: inout Harness, _ name: String, bucket: String = bucket, at: UInt64, blob: UInt64,
                        size: UInt64) -> CommandResult {
        let target = path(name, bucket: bucket)
        return h.run(.publishSnapshot(PublishSnapshot(
            path: target, streamID: h.model.streams[target]?.id ?? 0, offset: offset(at),
            contentType: "application/octet-stream", digest: [UInt8](repeating: UInt8(at & 0xFF), count: SnapshotDigest.byteCount),
            size: size, blobID: blob)))
    }

    static func rejectedCode(_ result: CommandResult) -> ModelError.Code? {
        if case .rejected(let error) = result { return error.code }
        return nil
    }

    @Test func aLimitIsSetChangedAndCleared() {
        var h = Harness()
        h.play([.run(.createBucket(Self.bucket))])
        #expect(h.model.buckets[Self.bucket]?.maxStoredBytes == nil)

        let (set, effects) = h.runIsolated(Self.limit(100))
        #expect(set == .bucketLimitSet)
        #expect(effects.changedBuckets == [Self.bucket])
        #expect(h.model.buckets[Self.bucket]?.maxStoredBytes == 100)
        // The same limit again changes no row.
        let (again, unchanged) = h.runIsolated(Self.limit(100))
        #expect(again == .bucketLimitSet)
        #expect(unchanged.changedBuckets.isEmpty)

        let (cleared, clearedEffects) = h.runIsolated(Self.limit(nil))
        #expect(cleared == .bucketLimitSet)
        #expect(clearedEffects.changedBuckets == [Self.bucket])
        #expect(h.model.buckets[Self.bucket]?.maxStoredBytes == nil)
        // The stream count and creation time are left alone.
        #expect(h.model.buckets[Self.bucket]?.streamCount == 0)
    }

    @Test func unknownAndInvalidBucketsAreRejected() {
        var h = Harness()
        #expect(Self.rejectedCode(h.run(Self.limit(1, bucket: "nope"))) == .bucketNotFound)
        #expect(Self.rejectedCode(h.run(Self.limit(1, bucket: "Nope"))) == .invalidBucket)
        #expect(Self.rejectedCode(h.run(Self.limit(1, bucket: ""))) == .invalidBucket)
        // A deleted bucket is unknown too; re-created, it starts without a limit.
        h.play([.run(.createBucket("b")), .run(Self.limit(5, bucket: "b")), .run(.deleteBucket("b"))])
        #expect(Self.rejectedCode(h.run(Self.limit(1, bucket: "b"))) == .bucketNotFound)
        h.play([.run(.createBucket("b"))])
        #expect(h.model.buckets["b"]?.maxStoredBytes == nil)
        // `_default` takes a limit like any bucket.
        #expect(h.run(Self.limit(7, bucket: defaultBucket)) == .bucketLimitSet)
    }

    @Test func anAppendPastTheLimitIsRefusedAndChangesNothing() {
        var h = Harness()
        h.play([
            .run(.createBucket(Self.bucket)),
            .run(Self.limit(10)),
            .run(create("s", bucket: Self.bucket, body: .text("12345"))),
            .run(append("s", .text("123"), bucket: Self.bucket)),
        ])
        #expect(h.model.storedBytes(ofBucket: Self.bucket) == 8)
        let before = h.model.streams
        let (refused, effects) = h.runIsolated(append("s", .text("abc"), bucket: Self.bucket))
        #expect(Self.rejectedCode(refused) == .bucketQuotaExceeded)
        #expect(h.model.streams == before)
        #expect(effects.isEmpty)
        // Exactly up to the limit fits.
        #expect(Expected.appended(next: 10).matches(h.run(append("s", .text("ab"), bucket: Self.bucket))))
        #expect(h.model.storedBytes(ofBucket: Self.bucket) == 10)
        #expect(Self.rejectedCode(h.run(append("s", .text("x"), bucket: Self.bucket))) == .bucketQuotaExceeded)
        // Closing adds no bytes, so it passes at the limit.
        #expect(Expected.appended(next: 10, closed: true, wrote: false)
            .matches(h.run(.append(AppendStream(path: path("s", bucket: Self.bucket), body: .empty, close: true)))))
        // Other buckets are not limited by this one.
        #expect(Expected.created(next: 3).matches(h.run(create("other", body: .text("abc")))))
    }

    @Test func createsAndForksCountTheBytesTheyStore() {
        var h = Harness()
        h.play([
            .run(create("src", body: .text("0123456789"))),
            .run(Self.limit(12, bucket: defaultBucket)),
        ])
        // A create with a body stores it, so it is held to the limit.
        #expect(Self.rejectedCode(h.run(create("big", body: .text("abc")))) == .bucketQuotaExceeded)
        #expect(h.meta("big") == nil)
        #expect(h.model.nextStreamID == 2)
        // A fork shares its source's data: it stores nothing more.
        #expect(Expected.created(next: 10).matches(h.run(fork("f", from: "src", at: offset(10)))))
        #expect(h.model.storedBytes(ofBucket: defaultBucket) == 10)
        // Its materialized sub-offset prefix is its own data, and counts.
        #expect(Self.rejectedCode(h.run(fork("g", from: "src", at: offset(0), sub: 3, prefix: [1, 2, 3])))
            == .bucketQuotaExceeded)
        #expect(h.meta("src")?.forkCount == 1)
        #expect(Expected.created(next: 2).matches(h.run(fork("g", from: "src", at: offset(0), sub: 2, prefix: [1, 2]))))
        #expect(h.model.storedBytes(ofBucket: defaultBucket) == 12)
        // An empty create stores nothing and always passes.
        #expect(Expected.created().matches(h.run(create("empty"))))
    }

    @Test func deletingAStreamFreesItsBytes() {
        var h = Harness()
        h.play([
            .run(.createBucket(Self.bucket)),
            .run(Self.limit(8)),
            .run(create("a", bucket: Self.bucket, body: .text("12345"))),
            .run(create("b", bucket: Self.bucket, body: .text("123"))),
            .reject(append("b", .text("x"), bucket: Self.bucket), .bucketQuotaExceeded),
            .run(delete("a", bucket: Self.bucket)),
        ])
        #expect(h.model.storedBytes(ofBucket: Self.bucket) == 3)
        #expect(Expected.appended(next: 8).matches(h.run(append("b", .text("abcde"), bucket: Self.bucket))))
    }

    /// A deleted source that forks still read through stays stored, and counts, until its
    /// last fork goes.
    @Test func softDeletedStreamsStillCount() {
        var h = Harness()
        h.play([
            .run(create("src", body: .text("0123456789"))),
            .run(fork("f", from: "src")),
            .run(delete("src")),
            .run(Self.limit(10, bucket: defaultBucket)),
        ])
        #expect(h.meta("src")?.softDeleted == true)
        #expect(h.model.storedBytes(ofBucket: defaultBucket) == 10)
        #expect(Self.rejectedCode(h.run(append("f", "x"))) == .bucketQuotaExceeded)
        // Deleting the fork removes the source too, and frees its bytes.
        h.play([.run(delete("f"))])
        #expect(h.model.streams.isEmpty)
        #expect(h.model.storedBytes(ofBucket: defaultBucket) == 0)
    }

    @Test func retentionFreesWhatItTrims() {
        var h = Harness()
        h.play([
            .run(.createBucket(Self.bucket)),
            .run(create("s", bucket: Self.bucket, body: .text("0123456789"))),
        ])
        guard case .snapshotChunkStored(let blob) = Self.chunk(&h, "s", [1, 2]) else {
            Issue.record("the upload was refused")
            return
        }
        // An upload in progress counts.
        #expect(h.model.storedBytes(ofBucket: Self.bucket) == 12)
        guard case .snapshotPublished(_, duplicate: false) = Self.publish(&h, "s", at: 10, blob: blob, size: 2) else {
            Issue.record("the publish was refused")
            return
        }
        // Published, the same bytes count as the snapshot's.
        #expect(h.model.storedBytes(ofBucket: Self.bucket) == 12)
        h.play([.run(Self.limit(12))])
        #expect(Self.rejectedCode(h.run(append("s", .text("x"), bucket: Self.bucket))) == .bucketQuotaExceeded)
        #expect(h.run(.retain(path("s", bucket: Self.bucket), .offset(offset(10)))) == .retained(offset(10), auto: false))
        #expect(h.model.storedBytes(ofBucket: Self.bucket) == 2)
        #expect(Expected.appended(next: 20).matches(h.run(append("s", .text("abcdefghij"), bucket: Self.bucket))))
    }

    @Test func snapshotChunksAreHeldToTheLimit() {
        var h = Harness()
        h.play([
            .run(.createBucket(Self.bucket)),
            .run(create("s", bucket: Self.bucket, body: .text("0123"))),
            .run(Self.limit(8)),
        ])
        #expect(Self.rejectedCode(Self.chunk(&h, "s", [1, 2, 3, 4, 5])) == .bucketQuotaExceeded)
        #expect(h.model.uploads.isEmpty)
        #expect(h.model.nextBlobID == 1)
        guard case .snapshotChunkStored(let blob) = Self.chunk(&h, "s", [1, 2, 3]) else {
            Issue.record("the first chunk was refused")
            return
        }
        #expect(Self.rejectedCode(Self.chunk(&h, "s", blob: blob, index: 1, [4, 5])) == .bucketQuotaExceeded)
        #expect(h.model.uploads[blob]?.size == 3)
        #expect(Self.chunk(&h, "s", blob: blob, index: 1, [4]) == .snapshotChunkStored(blobID: blob))
        #expect(h.model.storedBytes(ofBucket: Self.bucket) == 8)
        // An upload that is never published expires, and its bytes with it.
        h.now += SnapshotLimits.uploadExpiryMilliseconds
        h.play([.run(.expire)])
        #expect(h.model.uploads.isEmpty)
        #expect(h.model.storedBytes(ofBucket: Self.bucket) == 4)
    }

    /// A retry of an accepted append is answered as the duplicate it is, even at the limit.
    @Test func duplicateRetriesAreNotRefused() {
        var h = Harness()
        let p = producer("p", 0, 0)
        h.play([
            .run(.createBucket(Self.bucket)),
            .run(create("s", bucket: Self.bucket)),
            .run(append("s", .text("12345"), bucket: Self.bucket, producer: p)),
            .run(Self.limit(5)),
        ])
        #expect(Expected.appended(next: 5, duplicate: true, wrote: false, producer: Echo(0, 0))
            .matches(h.run(append("s", .text("12345"), bucket: Self.bucket, producer: p))))
        // The next sequence number is new data, and does not fit.
        #expect(Self.rejectedCode(h.run(append("s", .text("6"), bucket: Self.bucket, producer: producer("p", 0, 1))))
            == .bucketQuotaExceeded)
        // A closing retry of the request that closed the stream is a duplicate too.
        h.play([.run(Self.limit(nil)), .run(append("s", .text("6"), bucket: Self.bucket, close: true, producer: producer("p", 0, 1))),
                .run(Self.limit(0))])
        #expect(Expected.appended(next: 6, closed: true, duplicate: true, wrote: false, producer: Echo(0, 1))
            .matches(h.run(append("s", .text("6"), bucket: Self.bucket, close: true, producer: producer("p", 0, 1)))))
    }

    /// A limit below what the bucket stores is accepted; writes wait until usage falls.
    @Test func aLimitBelowUsageRefusesWritesOnly() {
        var h = Harness()
        h.play([
            .run(.createBucket(Self.bucket)),
            .run(create("s", bucket: Self.bucket, body: .text("0123456789"))),
        ])
        #expect(h.run(Self.limit(4)) == .bucketLimitSet)
        #expect(h.meta("s", bucket: Self.bucket)?.tail == offset(10))
        #expect(Self.rejectedCode(h.run(append("s", .text("x"), bucket: Self.bucket))) == .bucketQuotaExceeded)
        #expect(Self.rejectedCode(h.run(Self.limit(.max, bucket: "nope"))) == .bucketNotFound)
        #expect(h.run(Self.limit(.max)) == .bucketLimitSet)
        #expect(Expected.appended(next: 11).matches(h.run(append("s", .text("x"), bucket: Self.bucket))))
    }

    /// The counter equals a recomputation from the rows after each command of a mixed run,
    /// and a model rebuilt from persisted rows counts the same.
    @Test func theCounterEqualsARecomputation() {
        var h = Harness()
        var steps: [Command] = [
            .createBucket(Self.bucket),
            create("a", bucket: Self.bucket, body: .text("abcdef")),
            create("b", bucket: Self.bucket, expiry: .ttl(seconds: 1), body: .text("xyz")),
            append("a", .text("ghij"), bucket: Self.bucket),
            Self.limit(100),
            create("c", bucket: Self.bucket, type: "application/json", body: .messages("1", "[2]")),
            delete("a", bucket: Self.bucket),
        ]
        steps.append(.expire)
        for (index, command) in steps.enumerated() {
            if index == steps.count - 1 { h.now += 5_000 }
            _ = h.run(command)
            #expect(h.model.storedBytes(ofBucket: Self.bucket) == Self.recomputed(h.model, Self.bucket), "after \(command)")
        }
        #expect(h.model.storedBytes(ofBucket: Self.bucket) == framedLength("1", "[2]"))
        let rebuilt = StreamModel(buckets: Array(h.model.buckets.values), streams: Array(h.model.streams.values),
                                  nextStreamID: h.model.nextStreamID, uploads: h.model.uploads, nextBlobID: h.model.nextBlobID)
        #expect(rebuilt.storedBytes(ofBucket: Self.bucket) == h.model.storedBytes(ofBucket: Self.bucket))
        #expect(rebuilt.buckets[Self.bucket]?.maxStoredBytes == 100)
        // A read-side copy kept in step one row at a time counts the same.
        var copy = StreamModel()
        for (path, meta) in h.model.streams { copy.install(meta, at: path) }
        #expect(copy.storedBytes(ofBucket: Self.bucket) == h.model.storedBytes(ofBucket: Self.bucket))
        for path in h.model.streams.keys { copy.install(nil, at: path) }
        #expect(copy.storedBytes(ofBucket: Self.bucket) == 0)
    }

    /// The largest and smallest limits neither trap nor wrap.
    @Test func extremeLimits() {
        var h = Harness()
        h.play([.run(.createBucket(Self.bucket)), .run(Self.limit(.max)),
                .run(create("s", bucket: Self.bucket, body: .text("abc")))])
        #expect(Expected.appended(next: 4).matches(h.run(append("s", .text("d"), bucket: Self.bucket))))
        h.play([.run(Self.limit(0))])
        #expect(Self.rejectedCode(h.run(append("s", .text("e"), bucket: Self.bucket))) == .bucketQuotaExceeded)
    }
}
