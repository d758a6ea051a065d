import Testing
@testable import StreamModel

/// The operator figures of a stream and the bucket totals (issue 16, inspection): what was
/// appended, what is still stored after retention, snapshots, summed per bucket in one pass.
@Suite struct StreamFiguresTests {
    /// Uploads `bytes` as one chunk and publishes it at `at` on stream `name` of bucket `b`.
    private func publish(_ h: inout Harness, _ name: String, at: UInt64, _ bytes: [UInt8]) {
        let target = path(name, bucket: "b")
        guard let id = h.model.streams[target]?.id,
              case .snapshotChunkStored(let blob) = h.run(.snapshotChunk(SnapshotChunk(path: target, streamID: id, blobID: nil, index: 0, bytes: bytes)))
        else { Issue.record("the snapshot upload of \(name) was refused"); return }
        let result = h.run(.publishSnapshot(PublishSnapshot(
            path: target, streamID: id, offset: offset(at), contentType: "application/octet-stream",
            digest: [UInt8](repeating: UInt8(at & 0xFF), count: SnapshotDigest.byteCount), size: UInt64(bytes.count), blobID: blob)))
        guard case .snapshotPublished(_, duplicate: false) = result else { Issue.record("publish: \(result)"); return }
    }

    @Test func figuresFollowAppendsRetentionAndForks() {
        var h = Harness()
        h.play([
            .run(.createBucket("b")),
            .run(create("bytes", bucket: "b", body: .text("hello"))),
            .run(append("bytes", .text("abc"), bucket: "b")),
            .run(append("bytes", .text("xy"), bucket: "b")),
            .run(create("json", bucket: "b", type: "application/json")),
            .run(append("json", .messages("{\"a\":1}", "2", "[3]"), bucket: "b", type: "application/json")),
            .run(create("trimmed", bucket: "b", body: .text("aaaa"))),
            .run(append("trimmed", .text("bbbb"), bucket: "b")),
            .run(append("trimmed", .text("cc"), bucket: "b")),
        ])
        publish(&h, "trimmed", at: 4, [1, 2, 3])
        publish(&h, "trimmed", at: 8, [4, 5, 6, 7, 8])
        #expect(h.run(.retain(path("trimmed", bucket: "b"), .offset(offset(8)))) == .retained(offset(8), auto: false))

        let bytes = h.meta("bytes", bucket: "b")
        #expect(bytes?.bytesAppended == 10)
        #expect(bytes?.bytesStored == 10)
        #expect(bytes?.messageCount == 3)
        #expect(bytes?.snapshotBytes == 0)
        let json = h.meta("json", bucket: "b")
        #expect(json?.bytesAppended == framedLength("{\"a\":1}", "2", "[3]"))
        #expect(json?.messageCount == 3)
        // Retention dropped the units below 8; the two snapshots are stored apart.
        let trimmed = h.meta("trimmed", bucket: "b")
        #expect(trimmed?.bytesAppended == 10)
        #expect(trimmed?.bytesStored == 2)
        #expect(trimmed?.snapshotBytes == 8)
        #expect(trimmed?.snapshots.map(\.offset) == [offset(4), offset(8)])

        let totals = h.model.bucketTotals()
        #expect(totals.map(\.bucket.name) == ["_default", "b"])
        #expect(totals.first?.streams == 0 && totals.first?.bytesAppended == 0)
        let b = totals.last
        #expect(b?.streams == 3)
        #expect(b?.bytesAppended == 20 + framedLength("{\"a\":1}", "2", "[3]"))
        #expect(b?.bytesStored == 12 + framedLength("{\"a\":1}", "2", "[3]"))
        #expect(b?.messagesAppended == 9)
        #expect(b?.snapshots == 2)
        #expect(b?.snapshotBytes == 8)
    }

    /// A fork's own data starts at its fork offset: what it inherits counts for its source.
    @Test func aForkCountsOnlyItsOwnData() {
        var h = Harness()
        h.play([
            .run(create("src", body: .text("0123456789"))),
            .run(fork("f", from: "src", at: offset(10))),
            .run(append("f", "abc")),
        ])
        let forked = h.meta("f")
        #expect(forked?.base == offset(10))
        #expect(forked?.bytesAppended == 3)
        #expect(forked?.bytesStored == 3)
        #expect(forked?.messageCount == 1)
        let totals = h.model.bucketTotals()
        #expect(totals.count == 1)
        #expect(totals.first?.streams == 2)
        #expect(totals.first?.bytesAppended == 13)
    }

    /// Figures from damaged metadata (a tail below the base) saturate instead of trapping.
    @Test func inconsistentMetadataSaturates() {
        var meta = StreamMeta(
            id: 1, path: path("x"), contentType: "text/plain", expiry: .never, createdAt: t0, lastWriteAt: t0,
            lastAccessAt: t0, base: offset(10), tail: offset(4), closed: false, closedBy: nil, producers: [:],
            lastStreamSeq: nil, fork: nil, forkCount: 0, softDeleted: false)
        meta.trimmed = offset(20)
        meta.messageCount = .max
        #expect(meta.bytesAppended == 0)
        #expect(meta.bytesStored == 0)
        var totals = BucketTotals(bucket: BucketMeta(name: "_default", createdAt: 0, streamCount: 2))
        totals.add(meta)
        totals.add(meta)
        #expect(totals.messagesAppended == .max)
        #expect(totals.streams == 2)
    }
}
