import Foundation
import Testing

/// Conformance §4.1 Basic Stream Operations, §4.2 Append, §4.3 Read, §4.19 Read-Your-Writes.
@Suite("Basic Stream Operations", .conformance)
struct BasicOperationsTests {
    // §4.1 line 299
    @Test("should create a stream", arguments: Family.allCases)
    func createStream(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let r = try await ds.put(p)
        #expect(r.status == 201)
        #expect(r.header("Location")?.hasSuffix(p) == true)
    }

    // §4.1 line 309
    @Test("should allow idempotent create with same config", arguments: Family.allCases)
    func idempotentCreate(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p).status == 201)
        #expect(try await ds.put(p).status == 200)
    }

    // §4.1 line 325
    @Test("should reject create with different config (409)", arguments: Family.allCases)
    func createDifferentConfig(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, ct: tp).status == 201)
        #expect(try await ds.put(p, ct: js).status == 409)
    }

    // §4.1 line 343
    @Test("should delete a stream", arguments: Family.allCases)
    func deleteStream(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.delete(p).status == 204)
        #expect(try await ds.get(p, "offset=-1").status == 404)
    }

    // §4.1 line 357
    @Test("should properly isolate recreated stream after delete", arguments: Family.allCases)
    func recreateAfterDelete(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, body: "old data").status == 201)
        #expect(try await ds.post(p, body: " more old data").status == 204)
        #expect(try await ds.get(p).text == "old data more old data")
        #expect(try await ds.delete(p).status == 204)
        #expect(try await ds.put(p, body: "new data").status == 201)
        let r = try await ds.get(p)
        #expect(r.text == "new data")
        #expect(r.upToDate)
        #expect(try await ds.post(p, body: " appended").status == 204)
        #expect(try await ds.get(p).text == "new data appended")
    }

    // §4.2 line 426
    @Test("should append string data", arguments: Family.allCases)
    func appendString(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "hello world").status == 204)
        #expect(try await ds.readText(p) == "hello world")
    }

    // §4.2 line 440
    @Test("should append multiple chunks", arguments: Family.allCases)
    func appendChunks(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        for c in ["chunk1", "chunk2", "chunk3"] { #expect(try await ds.post(p, body: c).status == 204) }
        #expect(try await ds.readText(p) == "chunk1chunk2chunk3")
    }

    // §4.2 line 456
    @Test("should enforce sequence ordering with seq", arguments: Family.allCases)
    func appendSeqOrdering(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "a", [("Stream-Seq", "001")]).status == 204)
        #expect(try await ds.post(p, body: "b", [("Stream-Seq", "002")]).status == 204)
        #expect(try await ds.post(p, body: "c", [("Stream-Seq", "001")]).status == 409)
    }

    // §4.3 line 476
    @Test("should read empty stream", arguments: Family.allCases)
    func readEmpty(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let r = try await ds.get(p, "offset=-1")
        #expect(r.status == 200)
        #expect(r.body.isEmpty)
        #expect(r.upToDate)
    }

    // §4.3 line 489
    @Test("should read stream with data", arguments: Family.allCases)
    func readWithData(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        try await ds.post(p, body: "hello")
        let r = try await ds.get(p, "offset=-1")
        #expect(r.text == "hello")
        #expect(r.upToDate)
    }

    // §4.3 line 504
    @Test("should read from offset", arguments: Family.allCases)
    func readFromOffset(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        try await ds.post(p, body: "first")
        let o = try #require(try await ds.get(p, "offset=-1").nextOffset)
        try await ds.post(p, body: "second")
        let r = try await ds.get(p, "offset=\(urlEncode(o))")
        #expect(r.status == 200)
        #expect(r.text == "second")
    }

    // §4.19 line 3284
    @Test("should immediately read message after append", arguments: Family.allCases)
    func readAfterAppend(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "initial")
        #expect(try await ds.get(p).text == "initial")
    }

    // §4.19 line 3303
    @Test("should immediately read multiple appends", arguments: Family.allCases)
    func readMultipleAppends(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        for m in ["msg1", "msg2", "msg3"] { #expect(try await ds.post(p, body: m).status == 204) }
        #expect(try await ds.get(p).text == "msg1msg2msg3")
    }

    // §4.19 line 3340
    @Test("should serve offset-based reads immediately after append", arguments: Family.allCases)
    func offsetReadAfterAppend(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "first")
        let o1 = try #require(try await ds.get(p).nextOffset)
        try await ds.post(p, body: "second")
        try await ds.post(p, body: "third")
        #expect(try await ds.get(p, "offset=\(urlEncode(o1))").text == "secondthird")
    }
}
