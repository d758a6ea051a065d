import Foundation
import Testing

/// Conformance §4.12 Protocol Edge Cases and §4.18 Chunking and Large Payloads.
@Suite("Protocol Edge Cases", .conformance)
struct EdgeCaseTests {
    // §4.12 line 1991
    @Test("should reject empty POST body with 400", arguments: Family.allCases)
    func rejectEmptyPost(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "").status == 400)
    }

    // §4.12 line 2010
    @Test("should handle PUT with initial body correctly", arguments: Family.allCases)
    func putWithBody(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let created = try await ds.put(p, body: "initial stream content")
        #expect(created.status == 201)
        #expect(created.nextOffset != nil)
        let r = try await ds.get(p)
        #expect(r.text == "initial stream content")
        #expect(r.upToDate)
    }

    // §4.12 line 2035
    @Test("should preserve data immutability by position", arguments: Family.allCases)
    func immutabilityByPosition(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "chunk1")
        let o1 = try #require(try await ds.get(p).nextOffset)
        try await ds.post(p, body: "chunk2")
        try await ds.post(p, body: "chunk3")
        #expect(try await ds.get(p, "offset=\(urlEncode(o1))").text == "chunk2chunk3")
    }

    // §4.12 line 2077
    @Test("should generate unique, monotonically increasing offsets", arguments: Family.allCases)
    func monotonicOffsets(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        var previous = ""
        for i in 0..<5 {
            let next = try #require(try await ds.post(p, body: "message \(i)").nextOffset)
            #expect(next > previous)
            previous = next
        }
    }

    // §4.12 line 2107
    @Test("should reject empty offset parameter", arguments: Family.allCases)
    func rejectEmptyOffset(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        #expect(try await ds.get(p, "offset=").status == 400)
    }

    // §4.12 line 2123
    @Test("should reject multiple offset parameters", arguments: Family.allCases)
    func rejectMultipleOffsets(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        #expect(try await ds.get(p, "offset=a&offset=b").status == 400)
    }

    // §4.12 line 2142
    @Test("should enforce case-sensitive seq ordering", arguments: Family.allCases)
    func caseSensitiveSeq(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "a", [("Stream-Seq", "a")]).status == 204)
        #expect(try await ds.post(p, body: "b", [("Stream-Seq", "B")]).status == 409)
    }

    // §4.12 line 2174
    @Test("should handle binary data with integrity", arguments: Family.allCases)
    func binaryIntegrity(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let bytes: [UInt8] = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff]
        try await ds.putBytes(p, ct: os, body: bytes)
        #expect(try await ds.get(p).body == bytes)
    }

    // §4.12 line 2202
    @Test("should return Location header on 201", arguments: Family.allCases)
    func locationHeader(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let r = try await ds.put(p)
        #expect(r.status == 201)
        let location = try #require(r.header("Location"))
        let url = try #require(URL(string: location))
        #expect(url.scheme == ConformanceServer.scheme && url.host != nil, "Location \(location) is not absolute")
        #expect(location.hasSuffix(p))
    }

    // §4.12 line 2219
    @Test("should reject missing Content-Type on POST", arguments: Family.allCases)
    func rejectMissingContentType(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, ct: nil, body: "data").status == 400)
    }

    // §4.12 line 2239
    @Test("should accept PUT without Content-Type (use default)", arguments: Family.allCases)
    func putWithoutContentType(_ f: Family) async throws {
        let ds = DS(f)
        let r = try await ds.put(ds.stream(), ct: nil)
        #expect([200, 201].contains(r.status))
        #expect(r.contentType != nil)
    }

    // §4.12 line 2251
    @Test("should ignore unknown query parameters", arguments: Family.allCases)
    func ignoreUnknownQuery(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        let r = try await ds.get(p, "offset=-1&foo=bar&baz=qux")
        #expect(r.status == 200)
        #expect(r.text == "test data")
    }

    // §4.18 line 3181
    @Test("should handle chunk-size pagination correctly", arguments: Family.allCases)
    func chunkPagination(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.putBytes(p, ct: os, body: nil)
        let payload = (0..<(100 * 1024)).map { UInt8($0 % 256) }
        #expect(try await ds.postBytes(p, ct: os, body: payload).status == 204)
        var offset = "-1", received: [UInt8] = []
        for _ in 0..<1000 {
            let r = try await ds.get(p, "offset=\(urlEncode(offset))")
            #expect(r.status == 200)
            let next = try #require(r.nextOffset)
            if offset != "-1" { #expect(next >= offset) }
            received += r.body
            if (r.upToDate && r.body.isEmpty) || (next == offset && r.body.isEmpty) { break }
            if r.upToDate { offset = next; continue }
            offset = next
        }
        #expect(received == payload)
    }

    // §4.18 line 3257
    @Test("should handle large payload appropriately", arguments: Family.allCases)
    func largePayload(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.putBytes(p, ct: os, body: nil)
        let r = try await within(.seconds(30)) { try await ds.postBytes(p, ct: os, body: [UInt8](repeating: 0, count: 10 * 1024 * 1024)) }
        #expect([200, 204, 413].contains(r.status))
    }
}
