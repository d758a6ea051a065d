import Foundation
import Testing

/// Conformance §4.6 Browser Security Headers.
@Suite("Browser Security Headers", .conformance)
struct SecurityHeadersTests {
    // §4.6 line 979
    @Test("should include X-Content-Type-Options: nosniff on GET responses", arguments: Family.allCases)
    func nosniffGet(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        let r = try await ds.get(p)
        #expect(r.status == 200)
        #expect(r.header("X-Content-Type-Options") == "nosniff")
    }

    // §4.6 line 998
    @Test("should include X-Content-Type-Options: nosniff on PUT responses", arguments: Family.allCases)
    func nosniffPut(_ f: Family) async throws {
        let ds = DS(f)
        let r = try await ds.put(ds.stream())
        #expect(r.status == 201)
        #expect(r.header("X-Content-Type-Options") == "nosniff")
    }

    // §4.6 line 1010
    @Test("should include X-Content-Type-Options: nosniff on POST responses", arguments: Family.allCases)
    func nosniffPost(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let r = try await ds.post(p, body: "data")
        #expect(r.status == 200 || r.status == 204)
        #expect(r.header("X-Content-Type-Options") == "nosniff")
    }

    // §4.6 line 1030
    @Test("should include X-Content-Type-Options: nosniff on HEAD responses", arguments: Family.allCases)
    func nosniffHead(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let r = try await ds.head(p)
        #expect(r.status == 200)
        #expect(r.header("X-Content-Type-Options") == "nosniff")
    }

    // §4.6 line 1048
    @Test("should include Cross-Origin-Resource-Policy header on GET responses", arguments: Family.allCases)
    func corpGet(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.putBytes(p, ct: os, body: [1, 2, 3, 4])
        let r = try await ds.get(p)
        #expect(r.status == 200)
        #expect(["cross-origin", "same-origin", "same-site"].contains(r.header("Cross-Origin-Resource-Policy") ?? ""))
    }

    // §4.6 line 1069
    @Test("should include Cache-Control: no-store on HEAD responses", arguments: Family.allCases)
    func noStoreHead(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let r = try await ds.head(p)
        #expect(r.status == 200)
        #expect(r.header("Cache-Control")?.contains("no-store") == true)
    }

    // §4.6 line 1089
    @Test("should include X-Content-Type-Options: nosniff on SSE responses", arguments: Family.allCases)
    func nosniffSSE(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, ct: js, body: #"{"test":"data"}"#)
        let tail = try #require(try await ds.head(p).nextOffset)
        do {
            let r = try await SSEClient.fetch("\(p)?offset=\(urlEncode(tail))&live=sse", timeout: .milliseconds(500))
            #expect(r.status == 200)
            #expect(r.header("X-Content-Type-Options") == "nosniff")
        }
    }

    // §4.6 line 1130
    @Test("should include X-Content-Type-Options: nosniff on long-poll responses", arguments: Family.allCases)
    func nosniffLongPoll(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "initial data")
        let tail = try #require(try await ds.head(p).nextOffset)
        do {
            let r = try await within(.seconds(5)) { try await ds.get(p, "offset=\(urlEncode(tail))&live=long-poll") }
            #expect(r.status == 200 || r.status == 204)
            #expect(r.header("X-Content-Type-Options") == "nosniff")
        }
    }

    // §4.6 line 1172
    @Test("should include security headers on error responses", arguments: Family.allCases)
    func nosniffError(_ f: Family) async throws {
        let ds = DS(f)
        let r = try await ds.get(ds.stream())
        #expect(r.status == 404)
        #expect(r.header("X-Content-Type-Options") == "nosniff")
    }
}
