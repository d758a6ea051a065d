import Foundation
import Testing

/// Conformance §4.17 Caching and ETag.
@Suite("Caching and ETag", .conformance)
struct CachingTests {
    // §4.17 line 3062
    @Test("should generate ETag on GET responses", arguments: Family.allCases)
    func etagOnGet(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        let r = try await ds.get(p)
        #expect(r.status == 200)
        #expect(r.header("ETag")?.isEmpty == false)
    }

    // §4.17 line 3081
    @Test("should return 304 Not Modified for matching If-None-Match", arguments: Family.allCases)
    func notModified(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        let etag = try #require(try await ds.get(p).header("ETag"))
        let r = try await ds.get(p, "", [("If-None-Match", etag)])
        #expect(r.status == 304)
        #expect(r.body.isEmpty)
    }

    // §4.17 line 3112
    @Test("should return 200 for non-matching If-None-Match", arguments: Family.allCases)
    func nonMatchingEtag(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        let r = try await ds.get(p, "", [("If-None-Match", "\"wrong-etag\"")])
        #expect(r.status == 200)
        #expect(r.text == "test data")
    }

    // §4.17 line 3134
    @Test("should return new ETag after data changes", arguments: Family.allCases)
    func etagChanges(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        let e1 = try #require(try await ds.get(p).header("ETag"))
        try await ds.post(p, body: " more")
        let e2 = try #require(try await ds.get(p).header("ETag"))
        #expect(e1 != e2)
        #expect(try await ds.get(p, "", [("If-None-Match", e1)]).status == 200)
    }
}
