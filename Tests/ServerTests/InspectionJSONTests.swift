import Foundation
@testable import Server
@testable import StreamModel
import Testing

/// The inspection documents (issue 16) rendered from metadata no HTTP request can build
/// yet (snapshots, retention, an absolute expiry): valid JSON, every figure where the docs
/// say, names escaped.
@Suite struct InspectionJSONTests {
    static let t0: Int64 = 1_700_000_000_000

    static func meta() -> StreamMeta {
        let source = StreamPath(bucket: "b", name: "src/a")
        var meta = StreamMeta(
            id: 42, path: StreamPath(bucket: "b", name: "we\"ird/é"), contentType: "text/plain; x=\"y\"",
            expiry: .ttl(seconds: 60), createdAt: t0, lastWriteAt: t0 + 5, lastAccessAt: t0 + 7,
            base: Offset(position: 10), tail: Offset(position: 110), closed: true, closedBy: nil,
            producers: ["zeta": ProducerState(epoch: 2, lastSeq: 9, lastUsedAt: t0 + 3),
                        "é": ProducerState(epoch: 0, lastSeq: 0, lastUsedAt: t0 + 1),
                        "alpha": ProducerState(epoch: 1, lastSeq: 4, lastUsedAt: t0 + 2)],
            lastStreamSeq: "seq\"1", fork: ForkOrigin(sourceID: 7, sourcePath: source, offset: Offset(position: 10), offsetGiven: true, subOffset: 2),
            forkCount: 3, softDeleted: false)
        meta.retained = Offset(position: 40)
        meta.trimmed = Offset(position: 30)
        meta.messageCount = 12
        meta.autoRetention = true
        meta.snapshots = [
            StreamSnapshot(offset: Offset(position: 20), digest: [UInt8](repeating: 0xAB, count: 32), contentType: "application/json",
                           size: 100, blobID: 1, chunkCount: 1, publishedAt: t0 + 10),
            StreamSnapshot(offset: Offset(position: 40), digest: [UInt8](repeating: 0x01, count: 32), contentType: "text/plain",
                           size: 0, blobID: 0, chunkCount: 0, publishedAt: t0 + 20),
        ]
        return meta
    }

    static func parse(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func streamDocument() throws {
        let doc = try Self.parse(Inspection.streamJSON(Self.meta(), nodeID: 3, appliedIndex: 99))
        #expect(doc["bucket"] as? String == "b")
        #expect(doc["stream"] as? String == "we\"ird/é")
        #expect(doc["id"] as? Int == 42)
        #expect(doc["content_type"] as? String == "text/plain; x=\"y\"")
        #expect(doc["closed"] as? Bool == true)
        #expect(doc["soft_deleted"] as? Bool == false)
        #expect(doc["offsets"] as? [String: String] == [
            "start": "0000000000000000_0000000000000010", "retained": "0000000000000000_0000000000000040",
            "tail": "0000000000000000_0000000000000110",
        ])
        #expect(doc["bytes"] as? [String: Int] == ["appended": 100, "stored": 80, "snapshots": 100])
        #expect(doc["messages"] as? [String: Int] == ["appended": 12])
        let snapshots = try #require(doc["snapshots"] as? [[String: Any]])
        #expect(snapshots.map { $0["offset"] as? String } == ["0000000000000000_0000000000000020", "0000000000000000_0000000000000040"])
        #expect(snapshots.first?["digest"] as? String == String(repeating: "ab", count: 32))
        #expect(snapshots.first?["content_type"] as? String == "application/json")
        #expect(snapshots.first?["size"] as? Int == 100)
        #expect(snapshots.first?["published_at"] as? String == RFC3339.format(Self.t0 + 10))
        #expect(snapshots.first?["published_at_ms"] as? Int64 == Self.t0 + 10)
        #expect(doc["latest_snapshot_offset"] as? String == "0000000000000000_0000000000000040")
        #expect(doc["retention"] as? [String: Bool] == ["auto": true])
        // Producers by id bytes: "alpha" < "zeta" < "é" (0xC3 sorts after ASCII).
        let producers = try #require(doc["producers"] as? [[String: Any]])
        #expect(producers.map { $0["id"] as? String } == ["alpha", "zeta", "é"])
        #expect(producers[1]["epoch"] as? Int == 2)
        #expect(producers[1]["last_seq"] as? Int == 9)
        #expect(producers[1]["last_used_at_ms"] as? Int64 == Self.t0 + 3)
        #expect(producers[1]["last_used_at"] as? String == RFC3339.format(Self.t0 + 3))
        let fork = try #require(doc["fork"] as? [String: Any])
        #expect(fork["source"] as? String == "b/src/a")
        #expect(fork["source_id"] as? Int == 7)
        #expect(fork["offset"] as? String == "0000000000000000_0000000000000010")
        #expect(fork["sub_offset"] as? Int == 2)
        #expect(doc["fork_count"] as? Int == 3)
        // A sliding TTL expires a TTL after the last access.
        let expiry = try #require(doc["expiry"] as? [String: Any])
        #expect(expiry["ttl_seconds"] as? Int == 60)
        #expect(expiry["expires_at_ms"] as? Int64 == Self.t0 + 7 + 60_000)
        #expect(expiry["expires_at"] as? String == RFC3339.format(Self.t0 + 7 + 60_000))
        #expect(doc["last_access_at_ms"] as? Int64 == Self.t0 + 7)
        #expect(doc["created_at"] as? String == "2023-11-14T22:13:20.000Z")
        #expect(doc["created_at_ms"] as? Int64 == Self.t0)
        #expect(doc["last_write_at_ms"] as? Int64 == Self.t0 + 5)
        #expect(doc["last_stream_seq"] as? String == "seq\"1")
        #expect(doc["node_id"] as? Int == 3)
        #expect(doc["applied_index"] as? Int == 99)
    }

    @Test func absentFiguresAreNull() throws {
        var meta = Self.meta()
        meta.fork = nil
        meta.snapshots = []
        meta.producers = [:]
        meta.lastStreamSeq = nil
        meta.expiry = .never
        var doc = try Self.parse(Inspection.streamJSON(meta, nodeID: 1, appliedIndex: 1))
        #expect(doc["fork"] is NSNull)
        #expect(doc["latest_snapshot_offset"] is NSNull)
        #expect((doc["snapshots"] as? [Any])?.isEmpty == true)
        #expect((doc["producers"] as? [Any])?.isEmpty == true)
        #expect(doc["last_stream_seq"] is NSNull)
        var expiry = try #require(doc["expiry"] as? [String: Any])
        #expect(expiry["ttl_seconds"] is NSNull && expiry["expires_at"] is NSNull && expiry["expires_at_ms"] is NSNull)

        meta.expiry = .at(milliseconds: Self.t0 + 1234)
        doc = try Self.parse(Inspection.streamJSON(meta, nodeID: 1, appliedIndex: 1))
        expiry = try #require(doc["expiry"] as? [String: Any])
        #expect(expiry["ttl_seconds"] is NSNull)
        #expect(expiry["expires_at_ms"] as? Int64 == Self.t0 + 1234)
        #expect(expiry["expires_at"] as? String == "2023-11-14T22:13:21.234Z")

        // A TTL too large to be a time has no expiry time rather than a wrapped one.
        let huge = UInt64(Int64.max / 1000) + 1
        meta.expiry = .ttl(seconds: huge)
        doc = try Self.parse(Inspection.streamJSON(meta, nodeID: 1, appliedIndex: 1))
        expiry = try #require(doc["expiry"] as? [String: Any])
        #expect(expiry["ttl_seconds"] as? Int == Int(huge))
        #expect(expiry["expires_at"] is NSNull)
    }

    /// Times from the log are hostile: one RFC 3339 cannot write keeps its milliseconds.
    @Test func timesOutsideRFC3339AreNullText() throws {
        #expect(Inspection.time("t", 0) == "\"t\":\"1970-01-01T00:00:00.000Z\",\"t_ms\":0")
        #expect(Inspection.time("t", Inspection.rfc3339Range.upperBound).contains("9999-12-31T23:59:59.999Z"))
        #expect(Inspection.time("t", Inspection.rfc3339Range.lowerBound).contains("0000-01-01T00:00:00.000Z"))
        #expect(Inspection.time("t", nil) == "\"t\":null,\"t_ms\":null")
        var meta = Self.meta()
        meta.expiry = .at(milliseconds: .min)
        meta.createdAt = .max
        let doc = try Self.parse(Inspection.streamJSON(meta, nodeID: 1, appliedIndex: 1))
        let expiry = try #require(doc["expiry"] as? [String: Any])
        #expect(expiry["expires_at"] is NSNull)
        #expect(expiry["expires_at_ms"] as? Int64 == .min)
        #expect(doc["created_at"] is NSNull)
        #expect(doc["created_at_ms"] as? Int64 == .max)
    }

    @Test func bucketsDocument() throws {
        var totals = BucketTotals(bucket: BucketMeta(name: "b", createdAt: Self.t0, streamCount: 1, maxStoredBytes: UInt64.max))
        totals.add(Self.meta())
        let doc = try Self.parse(Inspection.bucketsJSON(
            [BucketTotals(bucket: BucketMeta(name: "_default", createdAt: 0, streamCount: 0)), totals], nodeID: 2, appliedIndex: 5))
        let buckets = try #require(doc["buckets"] as? [[String: Any]])
        #expect(buckets.map { $0["bucket"] as? String } == ["_default", "b"])
        #expect(buckets[0]["created_at"] as? String == "1970-01-01T00:00:00.000Z")
        #expect(buckets[0]["streams"] as? Int == 0)
        #expect(buckets[1]["created_at_ms"] as? Int64 == Self.t0)
        #expect(buckets[1]["streams"] as? Int == 1)
        #expect(buckets[1]["bytes_appended"] as? Int == 100)
        #expect(buckets[1]["bytes_stored"] as? Int == 80)
        #expect(buckets[1]["messages_appended"] as? Int == 12)
        #expect(buckets[1]["snapshots"] as? Int == 2)
        #expect(buckets[1]["bytes_snapshots"] as? Int == 100)
        // The limit: `null` when unset, every digit of a UInt64 when set.
        #expect(buckets[0]["max_stored_bytes"] is NSNull)
        #expect((buckets[1]["max_stored_bytes"] as? NSNumber)?.uint64Value == UInt64.max)
        #expect(doc["node_id"] as? Int == 2)
        #expect(doc["applied_index"] as? Int == 5)

        let one = try Self.parse(Inspection.bucketJSON(totals, nodeID: 3, appliedIndex: 9))
        #expect(one["bucket"] as? String == "b")
        #expect(one["bytes_stored"] as? Int == 80)
        #expect((one["max_stored_bytes"] as? NSNumber)?.uint64Value == UInt64.max)
        #expect(one["node_id"] as? Int == 3)
        #expect(one["applied_index"] as? Int == 9)
    }

    /// `PUT /admin/v1/buckets/{bucket}/limits` bodies: a byte count or null under a required key.
    @Test(arguments: [
        ("{\"max_stored_bytes\":0}", "0"),
        ("{\"max_stored_bytes\":1048576}", "1048576"),
        ("{\"max_stored_bytes\":18446744073709551615}", "18446744073709551615"),
        ("{\"max_stored_bytes\":null}", "nil"),
        (" { \"other\": 1, \"max_stored_bytes\" : 5 } ", "5"),
        ("{}", "invalid"),
        ("{\"max_stored_bytes\":-1}", "invalid"),
        ("{\"max_stored_bytes\":1.5}", "invalid"),
        ("{\"max_stored_bytes\":18446744073709551616}", "invalid"),
        ("{\"max_stored_bytes\":\"5\"}", "invalid"),
        ("{\"max_stored_bytes\":true}", "invalid"),
        ("{\"max_stored_bytes\":[5]}", "invalid"),
        ("[5]", "invalid"),
        ("5", "invalid"),
        ("null", "invalid"),
        ("", "invalid"),
        ("{\"max_stored_bytes\":5", "invalid"),
    ] as [(String, String)])
    func bucketLimitBodies(body: String, expected: String) {
        let decoded: String
        do {
            let parsed = try JSONDecoder().decode(BucketLimitBody.self, from: Data(body.utf8))
            decoded = parsed.maxStoredBytes.map(String.init) ?? "nil"
        } catch {
            decoded = "invalid"
        }
        #expect(decoded == expected, "\(body)")
    }
}
