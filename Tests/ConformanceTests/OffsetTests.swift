import Foundation
import Testing

/// Conformance §4.11 Offset Validation and Resumability.
@Suite("Offset Validation and Resumability", .conformance)
struct OffsetTests {
    // §4.11 line 1468
    @Test("should accept -1 as sentinel for stream beginning", arguments: Family.allCases)
    func minusOneSentinel(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        let r = try await ds.get(p, "offset=-1")
        #expect(r.status == 200)
        #expect(r.text == "test data")
        #expect(r.upToDate)
    }

    // §4.11 line 1488
    @Test("should return same data for offset=-1 and no offset", arguments: Family.allCases)
    func minusOneEqualsNoOffset(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "hello world")
        #expect(try await ds.get(p).text == "hello world")
        #expect(try await ds.get(p, "offset=-1").text == "hello world")
    }

    // §4.11 line 1514
    @Test("should accept offset=now as sentinel for current tail position", arguments: Family.allCases)
    func nowSentinel(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "historical data")
        let r = try await ds.get(p, "offset=now")
        #expect(r.status == 200)
        #expect(r.text == "")
        #expect(r.upToDate)
        #expect(r.header("Cache-Control")?.contains("no-store") == true)
    }

    // §4.11 line 1539
    @Test("should return correct tail offset for offset=now", arguments: Family.allCases)
    func nowTailOffset(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        let t = try #require(try await ds.get(p).nextOffset)
        #expect(try await ds.get(p, "offset=now").nextOffset == t)
    }

    // §4.11 line 1566
    @Test("should be able to resume from offset=now result", arguments: Family.allCases)
    func resumeFromNow(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "historical data")
        let n = try #require(try await ds.get(p, "offset=now").nextOffset)
        try await ds.post(p, body: "new data")
        #expect(try await ds.get(p, "offset=\(urlEncode(n))").text == "new data")
    }

    // §4.11 line 1604
    @Test("should work with offset=now on empty stream", arguments: Family.allCases)
    func nowOnEmpty(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let r = try await ds.get(p, "offset=now")
        #expect(r.status == 200)
        #expect(r.text == "")
        #expect(r.upToDate)
    }

    // §4.11 line 1625
    @Test("should return empty JSON array for offset=now on JSON streams", arguments: Family.allCases)
    func nowOnJSON(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, ct: js, body: #"[{"event": "historical"}]"#)
        let r = try await ds.get(p, "offset=now")
        #expect(r.status == 200)
        #expect(r.contentType == "application/json")
        #expect(r.upToDate)
        #expect(r.text == "[]")
    }

    // §4.11 line 1650
    @Test("should return empty body for offset=now on non-JSON streams", arguments: Family.allCases)
    func nowOnText(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "some text")
        let r = try await ds.get(p, "offset=now")
        #expect(r.status == 200)
        #expect(r.upToDate)
        #expect(r.text == "")
    }

    // §4.11 line 1674
    @Test("should support offset=now with long-poll mode (waits for data)", arguments: Family.allCases)
    func nowLongPollTimesOut(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "existing data")
        let t = try #require(try await ds.get(p).nextOffset)
        do {
            let r = try await within(.seconds(5)) { try await ds.get(p, "offset=now&live=long-poll") }
            #expect(r.status == 204)
            #expect(r.upToDate)
            #expect(r.nextOffset == t)
        }
    }

    // §4.11 line 1704
    @Test("should receive data with offset=now long-poll when appended", arguments: Family.allCases)
    func nowLongPollReceives(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "historical")
        do {
            let poll = Task { try await ds.get(p, "offset=now&live=long-poll") }
            let writer = Task {
                while !Task.isCancelled {
                    _ = try await ds.post(p, body: "new data")
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            defer { writer.cancel() }
            let r = try await within(.seconds(5)) { try await poll.value }
            #expect(r.status == 200)
            #expect(r.text.contains("new data"))
            #expect(!r.text.contains("historical"))
            #expect(r.upToDate)
        }
    }

    // §4.11 line 1743
    @Test("should support offset=now with SSE mode", arguments: Family.allCases)
    func nowSSE(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "historical")
        let t = try #require(try await ds.get(p).nextOffset)
        do {
            let r = try await SSEClient.fetch("\(p)?offset=now&live=sse", until: "\"upToDate\"")
            #expect(r.status == 200)
            let control = try #require(r.controls.first)
            #expect(control["upToDate"] as? Bool == true)
            #expect(control["streamNextOffset"] as? String == t)
        }
    }

    // §4.11 line 1779
    @Test("should return 404 for offset=now on non-existent stream", arguments: Family.allCases)
    func nowMissing(_ f: Family) async throws {
        let ds = DS(f)
        #expect(try await ds.get(ds.stream(), "offset=now").status == 404)
    }

    // §4.11 line 1789
    @Test("should return 404 for offset=now with long-poll on non-existent stream", arguments: Family.allCases)
    func nowLongPollMissing(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        do {
            let r = try await ds.get(p, "offset=now&live=long-poll")
            #expect(r.status == 404)
        }
    }

    // §4.11 line 1800
    @Test("should return 404 for offset=now with SSE on non-existent stream", arguments: Family.allCases)
    func nowSSEMissing(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        do {
            let r = try await SSEClient.fetch("\(p)?offset=now&live=sse")
            #expect(r.status == 404)
        }
    }

    // §4.11 line 1811
    @Test("should support offset=now with long-poll on empty stream", arguments: Family.allCases)
    func nowLongPollEmpty(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        do {
            let r = try await within(.seconds(5)) { try await ds.get(p, "offset=now&live=long-poll") }
            #expect(r.status == 204)
            #expect(r.upToDate)
            let o = try #require(r.nextOffset)
            try await ds.post(p, body: "first data")
            let next = try await ds.get(p, "offset=\(urlEncode(o))")
            #expect(next.status == 200)
            #expect(next.text == "first data")
        }
    }

    // §4.11 line 1848
    @Test("should support offset=now with SSE on empty stream", arguments: Family.allCases)
    func nowSSEEmpty(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        do {
            let r = try await SSEClient.fetch("\(p)?offset=now&live=sse", until: "\"upToDate\"")
            #expect(r.status == 200)
            let control = try #require(r.controls.first)
            #expect(control["upToDate"] as? Bool == true)
            #expect(control["streamNextOffset"] != nil)
        }
    }

    // §4.11 line 1878
    @Test("should reject malformed offset (contains comma)", arguments: Family.allCases)
    func rejectComma(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        #expect(try await ds.get(p, "offset=0,1").status == 400)
    }

    // §4.11 line 1894
    @Test("should reject offset with spaces", arguments: Family.allCases)
    func rejectSpaces(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        #expect(try await ds.get(p, "offset=0%201").status == 400)
    }

    // §4.11 line 1910
    @Test("should support resumable reads (no duplicate data)", arguments: Family.allCases)
    func resumableReads(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        try await ds.post(p, body: "chunk1")
        let r1 = try await ds.get(p)
        #expect(r1.text == "chunk1")
        let o1 = try #require(r1.nextOffset)
        try await ds.post(p, body: "chunk2")
        #expect(try await ds.get(p, "offset=\(urlEncode(o1))").text == "chunk2")
    }

    // §4.11 line 1955
    @Test("should return empty response when reading from tail offset", arguments: Family.allCases)
    func readFromTail(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        let t = try #require(try await ds.get(p).nextOffset)
        let r = try await ds.get(p, "offset=\(urlEncode(t))")
        #expect(r.status == 200)
        #expect(r.text == "")
        #expect(r.upToDate)
    }
}
