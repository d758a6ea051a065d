import Foundation
import Testing

/// Conformance §4.5 HTTP Protocol, §4.8 Case-Insensitivity, §4.9 Content-Type Validation,
/// §4.10 HEAD Metadata.
@Suite("HTTP Protocol", .conformance)
struct HTTPProtocolTests {
    // §4.5 line 594
    @Test("should return correct headers on PUT", arguments: Family.allCases)
    func putHeaders(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let r = try await ds.put(p)
        #expect(r.status == 201)
        #expect(r.contentType == "text/plain")
        #expect(r.nextOffset != nil)
    }

    // §4.5 line 609
    @Test("should return 200 on idempotent PUT with same config", arguments: Family.allCases)
    func idempotentPut(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p).status == 201)
        #expect(try await ds.put(p).status == 200)
    }

    // §4.5 line 627
    @Test("should return 409 on PUT with different config", arguments: Family.allCases)
    func putDifferentConfig(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, ct: tp).status == 201)
        #expect(try await ds.put(p, ct: js).status == 409)
    }

    // §4.5 line 645
    @Test("should return correct headers on POST", arguments: Family.allCases)
    func postHeaders(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let r = try await ds.post(p, body: "hello world")
        #expect(r.status == 204)
        #expect(r.nextOffset != nil)
    }

    // §4.5 line 665
    @Test("should return 404 on POST to non-existent stream", arguments: Family.allCases)
    func postMissing(_ f: Family) async throws {
        let ds = DS(f)
        #expect(try await ds.post(ds.stream(), body: "data").status == 404)
    }

    // §4.5 line 677
    @Test("should return 409 on content-type mismatch", arguments: Family.allCases)
    func postContentTypeMismatch(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, ct: js, body: "{}").status == 409)
    }

    // §4.5 line 696
    @Test("should return correct headers on GET", arguments: Family.allCases)
    func getHeaders(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        let r = try await ds.get(p)
        #expect(r.status == 200)
        #expect(r.contentType == "text/plain")
        #expect(r.upToDate)
        #expect(r.text == "test data")
        #expect(r.nextOffset != nil)
        #expect(r.header("ETag") != nil)
    }

    // §4.5 line 723
    @Test("should return empty body with up-to-date for empty stream", arguments: Family.allCases)
    func emptyStreamGet(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let r = try await ds.get(p)
        #expect(r.status == 200)
        #expect(r.upToDate)
        #expect(r.text == "")
    }

    // §4.5 line 745
    @Test("should read from offset", arguments: Family.allCases)
    func readFromOffset(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "first")
        try await ds.post(p, body: "second")
        #expect(try await ds.get(p).text == "firstsecond")

        let q = ds.stream()
        try await ds.put(q, body: "first")
        let m = try #require(try await ds.get(q).nextOffset)
        try await ds.post(q, body: "second")
        let r = try await ds.get(q, "offset=\(urlEncode(m))")
        #expect(r.status == 200)
        #expect(r.text == "second")
    }

    // §4.5 line 801
    @Test("should return 404 on DELETE non-existent stream", arguments: Family.allCases)
    func deleteMissing(_ f: Family) async throws {
        let ds = DS(f)
        #expect(try await ds.delete(ds.stream()).status == 404)
    }

    // §4.5 line 811
    @Test("should return 204 on successful DELETE", arguments: Family.allCases)
    func deleteSucceeds(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.delete(p).status == 204)
        #expect(try await ds.get(p).status == 404)
    }

    // §4.5 line 834
    @Test("should enforce sequence ordering", arguments: Family.allCases)
    func seqOrdering(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "a", [("Stream-Seq", "001")]).status == 204)
        #expect(try await ds.post(p, body: "b", [("Stream-Seq", "002")]).status == 204)
        #expect(try await ds.post(p, body: "c", [("Stream-Seq", "001")]).status == 409)
    }

    // §4.5 line 876
    @Test("should enforce lexicographic seq ordering (\"2\" then \"10\" rejects)", arguments: Family.allCases)
    func seqLexicographicRejects(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "a", [("Stream-Seq", "2")]).status == 204)
        #expect(try await ds.post(p, body: "b", [("Stream-Seq", "10")]).status == 409)
    }

    // §4.5 line 909
    @Test("should allow lexicographic seq ordering (\"09\" then \"10\" succeeds)", arguments: Family.allCases)
    func seqLexicographicAccepts(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "a", [("Stream-Seq", "09")]).status == 204)
        #expect(try await ds.post(p, body: "b", [("Stream-Seq", "10")]).status == 204)
    }

    // §4.5 line 941
    @Test("should reject duplicate seq values", arguments: Family.allCases)
    func seqDuplicate(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "a", [("Stream-Seq", "001")]).status == 204)
        #expect(try await ds.post(p, body: "b", [("Stream-Seq", "001")]).status == 409)
    }

    // §4.8 line 1268
    @Test("should treat content-type case-insensitively", arguments: Family.allCases)
    func contentTypeCaseInsensitive(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, ct: "TEXT/PLAIN", body: "data").status == 204)
    }

    // §4.8 line 1287
    @Test("should allow idempotent create with different case content-type", arguments: Family.allCases)
    func idempotentCreateCase(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, ct: js).status == 201)
        #expect(try await ds.put(p, ct: "APPLICATION/JSON").status == 200)
    }

    // §4.8 line 1305
    @Test("should accept headers with different casing", arguments: Family.allCases)
    func lowerCaseHeaders(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let r = try await ds.request("POST", p, headers: [("content-type", tp), ("stream-seq", "001")], body: Array("data".utf8))
        #expect(r.status == 204)
    }

    // §4.9 line 1333
    @Test("should enforce content-type match on append", arguments: Family.allCases)
    func contentTypeMatchEnforced(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, ct: js, body: #"{"test": true}"#).status == 409)
    }

    // §4.9 line 1352
    @Test("should allow append with matching content-type", arguments: Family.allCases)
    func contentTypeMatchAllowed(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, ct: js)
        #expect(try await ds.post(p, ct: js, body: #"{"test": true}"#).status == 204)
    }

    // §4.9 line 1371
    @Test("should return stream content-type on GET", arguments: Family.allCases)
    func getContentType(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, ct: js, body: #"{"initial": true}"#)
        let r = try await ds.get(p)
        #expect(r.status == 200)
        #expect(r.contentType == "application/json")
    }

    // §4.10 line 1396
    @Test("should return metadata without body", arguments: Family.allCases)
    func headMetadata(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        let r = try await ds.head(p)
        #expect(r.status == 200)
        #expect(r.contentType == "text/plain")
        #expect(r.body.isEmpty)
        #expect(r.nextOffset != nil)
    }

    // §4.10 line 1420
    @Test("should return 404 for non-existent stream", arguments: Family.allCases)
    func headMissing(_ f: Family) async throws {
        let ds = DS(f)
        #expect(try await ds.head(ds.stream()).status == 404)
    }

    // §4.10 line 1430
    @Test("should return tail offset", arguments: Family.allCases)
    func headTailOffset(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let o1 = try await ds.head(p).nextOffset
        try await ds.post(p, body: "test")
        let o2 = try await ds.head(p).nextOffset
        #expect(o1 != nil && o2 != nil)
        #expect(o1 != o2)
    }
}
