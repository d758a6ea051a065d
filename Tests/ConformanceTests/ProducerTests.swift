import Foundation
import Testing

/// Conformance §4.23 Idempotent Producer Operations. `(e,s)` is epoch e, seq s.
@Suite("Idempotent Producer Operations", .conformance)
struct ProducerTests {
    static func producer(_ id: String, _ epoch: Any, _ seq: Any) -> [(String, String)] {
        [("Producer-Id", id), ("Producer-Epoch", "\(epoch)"), ("Producer-Seq", "\(seq)")]
    }

    private func send(_ ds: DS, _ p: String, _ body: String, id: String = "test-producer", _ e: Int, _ s: Int,
                      ct: String = tp, _ extra: [(String, String)] = []) async throws -> Response {
        try await ds.post(p, ct: ct, body: body, Self.producer(id, e, s) + extra)
    }

    private func created(_ ds: DS, ct: String = tp) async throws -> String {
        let p = ds.stream()
        #expect(try await ds.put(p, ct: ct).status == 201)
        return p
    }

    // §4.23 line 5664
    @Test("should accept first append with producer headers (epoch=0, seq=0)", arguments: Family.allCases)
    func firstAppend(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        let r = try await send(ds, p, "hello", 0, 0)
        #expect(r.status == 200)
        #expect(r.nextOffset?.isEmpty == false)
        #expect(r.header("Producer-Epoch") == "0")
    }

    // §4.23 line 5690
    @Test("should accept sequential producer sequences", arguments: Family.allCases)
    func sequential(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        for s in 0..<3 { #expect(try await send(ds, p, "msg\(s)", 0, s).status == 200) }
    }

    // §4.23 line 5739
    @Test("should return 204 for duplicate sequence (idempotent success)", arguments: Family.allCases)
    func duplicate(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "hello", 0, 0).status == 200)
        #expect(try await send(ds, p, "hello", 0, 0).status == 204)
    }

    // §4.23 line 5775
    @Test("should accept epoch upgrade (new epoch starts at seq=0)", arguments: Family.allCases)
    func epochUpgrade(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "a", 0, 0).status == 200)
        #expect(try await send(ds, p, "b", 0, 1).status == 200)
        let r = try await send(ds, p, "c", 1, 0)
        #expect(r.status == 200)
        #expect(r.header("Producer-Epoch") == "1")
    }

    // §4.23 line 5822
    @Test("should reject stale epoch with 403 (zombie fencing)", arguments: Family.allCases)
    func staleEpoch(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "a", 1, 0).status == 200)
        let r = try await send(ds, p, "b", 0, 0)
        #expect(r.status == 403)
        #expect(r.header("Producer-Epoch") == "1")
    }

    // §4.23 line 5858
    @Test("should reject sequence gap with 409", arguments: Family.allCases)
    func sequenceGap(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "a", 0, 0).status == 200)
        let r = try await send(ds, p, "b", 0, 2)
        #expect(r.status == 409)
        #expect(r.header("Producer-Expected-Seq") == "1")
        #expect(r.header("Producer-Received-Seq") == "2")
    }

    // §4.23 line 5895
    @Test("should reject epoch increase with seq != 0", arguments: Family.allCases)
    func epochIncreaseNonZeroSeq(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "a", 0, 0).status == 200)
        #expect(try await send(ds, p, "b", 1, 5).status == 400)
    }

    // §4.23 line 5930
    @Test("should require all producer headers together", arguments: Family.allCases)
    func allHeadersTogether(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await ds.post(p, body: "a", [("Producer-Id", "test-producer")]).status == 400)
        #expect(try await ds.post(p, body: "a", [("Producer-Epoch", "0")]).status == 400)
        #expect(try await ds.post(p, body: "a", [("Producer-Id", "test-producer"), ("Producer-Epoch", "0")]).status == 400)
    }

    // §4.23 line 5974
    @Test("should reject invalid integer formats in producer headers", arguments: Family.allCases)
    func invalidIntegers(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        for (epoch, seq) in [("0", "1abc"), ("0xyz", "0"), ("1e3", "0"), ("-1", "0")] {
            let r = try await ds.post(p, body: "a", Self.producer("test-producer", epoch, seq))
            #expect(r.status == 400, "epoch \(epoch) seq \(seq)")
        }
        #expect(try await send(ds, p, "valid", 0, 0).status == 200)
    }

    // §4.23 line 6049
    @Test("multiple producers should have independent state", arguments: Family.allCases)
    func independentProducers(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "a0", id: "producer-A", 0, 0).status == 200)
        #expect(try await send(ds, p, "b0", id: "producer-B", 0, 0).status == 200)
        #expect(try await send(ds, p, "a1", id: "producer-A", 0, 1).status == 200)
        #expect(try await send(ds, p, "b1", id: "producer-B", 0, 1).status == 200)
    }

    // §4.23 line 6111
    @Test("duplicate of seq=0 should not corrupt state", arguments: Family.allCases)
    func duplicateSeqZero(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "a", 0, 0).status == 200)
        #expect(try await send(ds, p, "a", 0, 0).status == 204)
        #expect(try await send(ds, p, "b", 0, 1).status == 200)
    }

    // §4.23 line 6160
    @Test("duplicate response should return highest accepted seq, not request seq", arguments: Family.allCases)
    func duplicateReturnsHighestSeq(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        for s in 0..<3 {
            let r = try await send(ds, p, "msg\(s)", 0, s)
            #expect(r.status == 200)
            #expect(r.header("Producer-Seq") == "\(s)")
        }
        let r = try await send(ds, p, "msg1", 0, 1)
        #expect(r.status == 204)
        #expect(r.header("Producer-Seq") == "2")
    }

    // §4.23 line 6203
    @Test("split-brain fencing scenario", arguments: Family.allCases)
    func splitBrain(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "A", id: "shared", 0, 0).status == 200)
        #expect(try await send(ds, p, "B", id: "shared", 1, 0).status == 200)
        let r = try await send(ds, p, "A2", id: "shared", 0, 1)
        #expect(r.status == 403)
        #expect(r.header("Producer-Epoch") == "1")
    }

    // §4.23 line 6253
    @Test("epoch rollback should be rejected", arguments: Family.allCases)
    func epochRollback(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "a", 2, 0).status == 200)
        #expect(try await send(ds, p, "b", 1, 0).status == 403)
    }

    // §4.23 line 6288
    @Test("producer headers work with Stream-Seq header", arguments: Family.allCases)
    func withStreamSeq(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "a", 0, 0, [("Stream-Seq", "app-seq-001")]).status == 200)
    }

    // §4.23 line 6312
    @Test("producer duplicate should return 204 even with Stream-Seq header", arguments: Family.allCases)
    func duplicateWithStreamSeq(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "a", 0, 0, [("Stream-Seq", "app-seq-001")]).status == 200)
        #expect(try await send(ds, p, "a", 0, 0, [("Stream-Seq", "app-seq-001")]).status == 204)
    }

    // §4.23 line 6359
    @Test("should store and read back data correctly", arguments: Family.allCases)
    func storeAndRead(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "hello world", 0, 0).status == 200)
        #expect(try await ds.get(p).text == "hello world")
    }

    // §4.23 line 6388
    @Test("should preserve order of sequential producer writes", arguments: Family.allCases)
    func preserveOrder(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        for s in 0..<5 { #expect(try await send(ds, p, "msg-\(s)", 0, s).status == 200) }
        #expect(try await ds.get(p).text == "msg-0msg-1msg-2msg-3msg-4")
    }

    // §4.23 line 6418
    @Test("duplicate should not corrupt or duplicate data", arguments: Family.allCases)
    func duplicateNoCorruption(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "first", 0, 0).status == 200)
        #expect(try await send(ds, p, "first", 0, 0).status == 204)
        #expect(try await send(ds, p, "second", 0, 1).status == 200)
        #expect(try await ds.get(p).text == "firstsecond")
    }

    // §4.23 line 6472
    @Test("multiple producers should interleave correctly", arguments: Family.allCases)
    func interleave(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "A0", id: "A", 0, 0).status == 200)
        #expect(try await send(ds, p, "B0", id: "B", 0, 0).status == 200)
        #expect(try await send(ds, p, "A1", id: "A", 0, 1).status == 200)
        #expect(try await send(ds, p, "B1", id: "B", 0, 1).status == 200)
        #expect(try await ds.get(p).text == "A0B0A1B1")
    }

    // §4.23 line 6536
    @Test("should store and read back JSON object correctly", arguments: Family.allCases)
    func jsonObject(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds, ct: js)
        #expect(try await send(ds, p, #"{"event":"test","value":42}"#, 0, 0, ct: js).status == 200)
        #expect(jsonEqual(try await ds.get(p).json, #"[{"event":"test","value":42}]"#))
    }

    // §4.23 line 6564
    @Test("should preserve order of JSON appends with producer", arguments: Family.allCases)
    func jsonOrder(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds, ct: js)
        for s in 0..<5 { #expect(try await send(ds, p, #"{"seq":\#(s)}"#, 0, s, ct: js).status == 200) }
        #expect(jsonEqual(try await ds.get(p).json, #"[{"seq":0},{"seq":1},{"seq":2},{"seq":3},{"seq":4}]"#))
    }

    // §4.23 line 6600
    @Test("JSON duplicate should not corrupt data", arguments: Family.allCases)
    func jsonDuplicate(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds, ct: js)
        #expect(try await send(ds, p, #"{"id":1}"#, 0, 0, ct: js).status == 200)
        #expect(try await send(ds, p, #"{"id":1}"#, 0, 0, ct: js).status == 204)
        #expect(try await send(ds, p, #"{"id":2}"#, 0, 1, ct: js).status == 200)
        #expect(jsonEqual(try await ds.get(p).json, #"[{"id":1},{"id":2}]"#))
    }

    // §4.23 line 6652
    @Test("should reject invalid JSON with producer headers", arguments: Family.allCases)
    func invalidJSON(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds, ct: js)
        #expect(try await send(ds, p, "{ invalid json }", 0, 0, ct: js).status == 400)
    }

    // §4.23 line 6675
    @Test("should reject empty JSON array with producer headers", arguments: Family.allCases)
    func emptyJSONArray(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds, ct: js)
        #expect(try await send(ds, p, "[]", 0, 0, ct: js).status == 400)
    }

    // §4.23 line 6702
    @Test("should return 404 for non-existent stream", arguments: Family.allCases)
    func missingStream(_ f: Family) async throws {
        let ds = DS(f)
        #expect(try await send(ds, ds.stream(), "data", 0, 0).status == 404)
    }

    // §4.23 line 6719
    @Test("should return 409 for content-type mismatch", arguments: Family.allCases)
    func contentTypeMismatch(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, #"{"a":1}"#, 0, 0, ct: js).status == 409)
    }

    // §4.23 line 6742
    @Test("should return 400 for empty body", arguments: Family.allCases)
    func emptyBody(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "", 0, 0).status == 400)
    }

    // §4.23 line 6765
    @Test("should reject empty Producer-Id", arguments: Family.allCases)
    func emptyProducerId(_ f: Family) async throws {
        let ds = DS(f), p = try await created(ds)
        #expect(try await send(ds, p, "data", id: "", 0, 0).status == 400)
    }
}
