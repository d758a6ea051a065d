import Foundation
import Testing

/// Conformance §4.4 Long-Poll Operations and §4.13 Long-Poll Edge Cases. The server runs with
/// a one-second long-poll timeout (`ConformanceServer`).
@Suite("Long-Poll", .conformance)
struct LongPollTests {
    // §4.4 line 529
    @Test("should wait for new data with long-poll", arguments: Family.allCases)
    func waitsForNewData(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let catchUp = try await ds.get(p, "offset=-1")
        let tail = try #require(catchUp.nextOffset)
        do {
            // As the suite's client does: a poll that times out (204) is sent again from the
            // offset it returned. (One poll alone fails when the append takes longer than the
            // server's timeout to reach the polled node: a loaded 3-node run saw 204.)
            let deadline = ContinuousClock.now + .seconds(ConformanceServer.longPollTimeoutSeconds + 2)
            let poll = Task {
                var offset = tail
                while true {
                    let r = try await ds.get(p, "offset=\(urlEncode(offset))&live=long-poll")
                    guard r.status == 204, let next = r.nextOffset, ContinuousClock.now < deadline else { return r }
                    offset = next
                }
            }
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await ds.post(p, body: "new data").status == 204)
            let r = try await within(.seconds(ConformanceServer.longPollTimeoutSeconds + 2)) { try await poll.value }
            #expect(r.status == 200)
            #expect(r.text == "new data")
        }
    }

    // §4.4 line 571
    @Test("should return immediately if data already exists", arguments: Family.allCases)
    func returnsExistingData(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        try await ds.post(p, body: "existing data")
        #expect(try await ds.readText(p) == "existing data")
    }

    // §4.13 line 2279
    @Test("should require offset parameter for long-poll", arguments: Family.allCases)
    func requiresOffset(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        do {
            let r = try await ds.get(p, "live=long-poll")
            #expect(r.status == 400)
        }
    }

    // §4.13 line 2298
    @Test("should generate Stream-Cursor header on long-poll responses", arguments: Family.allCases)
    func generatesCursor(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        do {
            let r = try await ds.get(p, "offset=-1&live=long-poll")
            #expect(r.status == 200)
            let cursor = try #require(r.header("Stream-Cursor"))
            #expect(!cursor.isEmpty && cursor.allSatisfy(\.isASCIIDigit))
        }
    }

    // §4.13 line 2326
    @Test("should return immediately with Stream-Up-To-Date when data exists at offset", arguments: Family.allCases)
    func immediateWhenDataExists(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "existing data")
        do {
            let (r, elapsed) = try await timed { try await ds.get(p, "offset=-1&live=long-poll") }
            #expect(r.status == 200)
            #expect(r.text == "existing data")
            #expect(r.upToDate)
            #expect(elapsed < .milliseconds(ConformanceServer.longPollTimeoutSeconds * 1000 / 2))
        }
    }

    // §4.13 line 2354
    @Test("should echo cursor and handle collision with jitter", arguments: Family.allCases)
    func cursorCollisionJitter(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        do {
            let r1 = try await ds.get(p, "offset=-1&live=long-poll")
            #expect(r1.status == 200)
            let c1 = try #require(r1.header("Stream-Cursor").flatMap { Int($0) })
            let r2 = try await ds.get(p, "cursor=\(c1)&live=long-poll&offset=-1")
            #expect(r2.status == 200)
            let c2 = try #require(r2.header("Stream-Cursor").flatMap { Int($0) })
            #expect(c2 > c1)
        }
    }

    // §4.13 line 2392
    @Test("should return Stream-Cursor, Stream-Up-To-Date and Stream-Next-Offset on 204 timeout", arguments: Family.allCases)
    func timeoutHeaders(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        let tail = try #require(try await ds.head(p).nextOffset)
        do {
            let r = try await within(.seconds(5)) { try await ds.get(p, "offset=\(urlEncode(tail))&live=long-poll") }
            #expect(r.status == 204)
            #expect(r.upToDate)
            let cursor = try #require(r.header("Stream-Cursor"))
            #expect(!cursor.isEmpty && cursor.allSatisfy(\.isASCIIDigit))
            #expect(r.nextOffset == tail)
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
