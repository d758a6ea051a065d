import Foundation
import Testing

/// Conformance §4.26 Fork - Reading, §4.27 Fork - Appending, §4.28 Fork - Recursive,
/// §4.29 Fork - Live Modes, §4.32 Fork - JSON Mode, §4.33 Fork - Edge Cases.
@Suite("Fork - Reading, Appending, Recursion, Live, JSON, Edge Cases", .conformance)
struct ForkReadAppendTests {
    /// A source with `body` and a fork of it at its tail.
    private func forked(_ ds: DS, _ body: String, ct: String = tp) async throws -> (src: String, fork: String) {
        let src = ds.stream("src"), fk = ds.stream("fork")
        #expect(try await ds.put(src, ct: ct, body: body).status == 201)
        #expect(try await ds.fork(fk, from: src, ct: ct).status == 201)
        return (src, fk)
    }

    // §4.26 line 8993
    @Test("should read entire fork (source + fork data)", arguments: Family.allCases)
    func readEntireFork(_ f: Family) async throws {
        let ds = DS(f), (_, fk) = try await forked(ds, "source")
        #expect(try await ds.post(fk, body: " fork").status == 204)
        #expect(try await ds.get(fk, "offset=-1").text == "source fork")
    }

    // §4.26 line 9028
    @Test("should read only inherited portion", arguments: Family.allCases)
    func readInherited(_ f: Family) async throws {
        let ds = DS(f), (_, fk) = try await forked(ds, "inherited data")
        let r = try await ds.get(fk, "offset=-1")
        #expect(r.text == "inherited data")
        #expect(r.upToDate)
    }

    // §4.26 line 9057
    @Test("should read only fork's own data (starting past fork offset)", arguments: Family.allCases)
    func readOwnData(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "source data")
        let forkOffset = try #require(try await ds.head(src).nextOffset)
        #expect(try await ds.fork(fk, from: src).status == 201)
        try await ds.post(fk, body: "fork only")
        #expect(try await ds.get(fk, "offset=\(urlEncode(forkOffset))").text == "fork only")
    }

    // §4.26 line 9100
    @Test("should read across fork boundary", arguments: Family.allCases)
    func readAcrossBoundary(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "A")
        try await ds.post(src, body: "B")
        #expect(try await ds.fork(fk, from: src).status == 201)
        try await ds.post(fk, body: "C")
        #expect(try await ds.get(fk, "offset=-1").text == "ABC")
    }

    // §4.26 line 9140
    @Test("should not show source appends after fork", arguments: Family.allCases)
    func sourceAppendsInvisible(_ f: Family) async throws {
        let ds = DS(f), (src, fk) = try await forked(ds, "before")
        try await ds.post(src, body: " after")
        #expect(try await ds.get(fk, "offset=-1").text == "before")
    }

    // §4.26 line 9175
    @Test("should NOT include fork headers on HEAD/GET/PUT responses (forks are transparent)", arguments: Family.allCases)
    func noForkHeaders(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "data")
        let put = try await ds.fork(fk, from: src)
        #expect(put.status == 201)
        for r in [put, try await ds.head(fk), try await ds.get(fk)] {
            #expect(r.header("Stream-Forked-From") == nil)
            #expect(r.header("Stream-Fork-Offset") == nil)
        }
    }

    // §4.27 line 9224
    @Test("should append to a fork", arguments: Family.allCases)
    func appendToFork(_ f: Family) async throws {
        let ds = DS(f), (_, fk) = try await forked(ds, "source")
        let r = try await ds.post(fk, body: " appended")
        #expect(r.status == 204)
        #expect(r.nextOffset != nil)
        #expect(try await ds.get(fk, "offset=-1").text == "source appended")
    }

    // §4.27 line 9260
    @Test("should support idempotent producer on fork", arguments: Family.allCases)
    func producerOnFork(_ f: Family) async throws {
        let ds = DS(f), (_, fk) = try await forked(ds, "source")
        let producer = ProducerTests.producer("fork-producer", 0, 0)
        #expect(try await ds.post(fk, body: "msg1", producer).status == 200)
        #expect(try await ds.post(fk, body: "msg1", producer).status == 204)
        #expect(try await ds.get(fk, "offset=-1").text == "sourcemsg1")
    }

    // §4.27 line 9313
    @Test("should close forked stream independently", arguments: Family.allCases)
    func closeForkIndependently(_ f: Family) async throws {
        let ds = DS(f), (src, fk) = try await forked(ds, "source")
        try await ds.post(fk, body: " final")
        let r = try await ds.close(fk)
        #expect([200, 204].contains(r.status))
        #expect(r.closed)
        #expect(try await ds.head(src).header("Stream-Closed") == nil)
    }

    // §4.27 line 9354
    @Test("should not affect fork when source is closed", arguments: Family.allCases)
    func sourceCloseDoesNotAffectFork(_ f: Family) async throws {
        let ds = DS(f), (src, fk) = try await forked(ds, "source")
        try await ds.close(src)
        #expect(try await ds.post(fk, body: " more").status == 204)
        #expect(try await ds.head(fk).header("Stream-Closed") == nil)
    }

    // §4.27 line 9396
    @Test("should append to source after fork — source independent", arguments: Family.allCases)
    func sourceIndependent(_ f: Family) async throws {
        let ds = DS(f), (src, fk) = try await forked(ds, "initial")
        #expect(try await ds.post(src, body: " extra").status == 204)
        #expect(try await ds.get(src, "offset=-1").text == "initial extra")
        #expect(try await ds.get(fk, "offset=-1").text == "initial")
    }

    // §4.28 line 9447
    @Test("should create a three-level fork chain", arguments: Family.allCases)
    func threeLevelChain(_ f: Family) async throws {
        let ds = DS(f), l0 = ds.stream("l0"), l1 = ds.stream("l1"), l2 = ds.stream("l2")
        try await ds.put(l0, body: "root")
        #expect(try await ds.fork(l1, from: l0).status == 201)
        #expect(try await ds.fork(l2, from: l1).status == 201)
    }

    // §4.28 line 9481
    @Test("should fork at mid-point of inherited data", arguments: Family.allCases)
    func forkMidInherited(_ f: Family) async throws {
        let ds = DS(f), l0 = ds.stream("l0"), l1 = ds.stream("l1"), l2 = ds.stream("l2")
        try await ds.put(l0, body: "A")
        try await ds.post(l0, body: "B")
        #expect(try await ds.fork(l1, from: l0).status == 201)
        try await ds.post(l1, body: "C")
        let tail = try #require(try await ds.head(l1).nextOffset)
        #expect(try await ds.fork(l2, from: l1, offset: tail).status == 201)
        #expect(try await ds.get(l2, "offset=-1").text == "ABC")
    }

    // §4.28 line 9539
    @Test("should read correctly across three levels", arguments: Family.allCases)
    func readThreeLevels(_ f: Family) async throws {
        let ds = DS(f), l0 = ds.stream("l0"), l1 = ds.stream("l1"), l2 = ds.stream("l2")
        try await ds.put(l0, body: "A")
        #expect(try await ds.fork(l1, from: l0).status == 201)
        try await ds.post(l1, body: "B")
        #expect(try await ds.fork(l2, from: l1).status == 201)
        try await ds.post(l2, body: "C")
        #expect(try await ds.get(l0, "offset=-1").text == "A")
        #expect(try await ds.get(l1, "offset=-1").text == "AB")
        #expect(try await ds.get(l2, "offset=-1").text == "ABC")
    }

    // §4.28 line 9597
    @Test("should append at each level independently", arguments: Family.allCases)
    func appendEachLevel(_ f: Family) async throws {
        let ds = DS(f), l0 = ds.stream("l0"), l1 = ds.stream("l1"), l2 = ds.stream("l2")
        try await ds.put(l0, body: "X")
        #expect(try await ds.fork(l1, from: l0).status == 201)
        try await ds.post(l1, body: "Y")
        #expect(try await ds.fork(l2, from: l1).status == 201)
        try await ds.post(l2, body: "Z")
        try await ds.post(l0, body: "0")
        try await ds.post(l1, body: "1")
        #expect(try await ds.get(l0, "offset=-1").text == "X0")
        #expect(try await ds.get(l1, "offset=-1").text == "XY1")
        #expect(try await ds.get(l2, "offset=-1").text == "XYZ")
    }

    // §4.28 line 9668
    @Test("should compose sub-offsets across chained forks", arguments: Family.allCases)
    func composeSubOffsets(_ f: Family) async throws {
        let ds = DS(f), l0 = ds.stream("l0"), l1 = ds.stream("l1"), l2 = ds.stream("l2")
        try await ds.put(l0, body: "abcdef")
        #expect(try await ds.fork(l1, from: l0, offset: zeroOffset, sub: "4").status == 201)
        #expect(try await ds.fork(l2, from: l1, offset: zeroOffset, sub: "2").status == 201)
        #expect(try await ds.post(l2, body: "Z").status == 204)
        #expect(try await ds.get(l1, "offset=-1").text == "abcd")
        #expect(try await ds.get(l2, "offset=-1").text == "abZ")
        #expect(try await ds.get(l0, "offset=-1").text == "abcdef")
    }

    // §4.29 line 9736
    @Test("should return inherited data immediately on long-poll", arguments: Family.allCases)
    func forkLongPollInherited(_ f: Family) async throws {
        let ds = DS(f), (_, fk) = try await forked(ds, "inherited data")
        do {
            let r = try await within(.seconds(3)) { try await ds.get(fk, "offset=-1&live=long-poll") }
            #expect(r.status == 200)
            #expect(r.text == "inherited data")
            #expect(r.upToDate)
        }
    }

    // §4.29 line 9780
    @Test("should wait for fork appends, not source appends, on long-poll at tail", arguments: Family.allCases)
    func forkLongPollWaitsForFork(_ f: Family) async throws {
        let ds = DS(f), (src, fk) = try await forked(ds, "source data")
        let tail = try #require(try await ds.get(fk).nextOffset)
        do {
            let poll = Task { try await ds.get(fk, "offset=\(urlEncode(tail))&live=long-poll") }
            try await Task.sleep(for: .milliseconds(50))
            try await ds.post(src, body: " source new")
            try await ds.post(fk, body: " fork new")
            let r = try await within(.seconds(5)) { try await poll.value }
            #expect(r.status == 200)
            #expect(r.text == " fork new")
        }
    }

    // §4.29 line 9841
    @Test("should stream fork data via SSE", arguments: Family.allCases)
    func forkSSE(_ f: Family) async throws {
        let ds = DS(f), (_, fk) = try await forked(ds, "inherited")
        try await ds.post(fk, body: " forked")
        do {
            let r = try await SSEClient.fetch("\(fk)?offset=-1&live=sse", until: "forked", timeout: .seconds(5), maxChunks: 20)
            #expect(r.status == 200)
            #expect(r.text.contains("inherited"))
            #expect(r.text.contains("forked"))
        }
    }

    // §4.29 line 9878
    @Test("should handle long-poll handover at fork offset", arguments: Family.allCases)
    func forkLongPollHandover(_ f: Family) async throws {
        let ds = DS(f), (_, fk) = try await forked(ds, "source data")
        do {
            let r = try await within(.seconds(5)) { try await ds.get(fk, "offset=-1&live=long-poll") }
            #expect(r.status == 200)
            #expect(r.text == "source data")
            let n = try #require(r.nextOffset)
            try await ds.post(fk, body: " fork append")
            #expect(try await ds.get(fk, "offset=\(urlEncode(n))").text == " fork append")
        }
    }

    // §4.32 line 10812
    @Test("should fork a JSON stream", arguments: Family.allCases)
    func forkJSON(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, ct: js, body: #"[{"event":"one"}]"#)
        let r = try await ds.fork(fk, from: src, ct: js)
        #expect(r.status == 201)
        #expect(r.contentType == "application/json")
        let g = try await ds.get(fk, "offset=-1")
        #expect(g.contentType == "application/json")
        #expect(jsonEqual(g.json, #"[{"event":"one"}]"#))
    }

    // §4.32 line 10844
    @Test("should read forked JSON across boundary", arguments: Family.allCases)
    func forkJSONAcrossBoundary(_ f: Family) async throws {
        let ds = DS(f), (_, fk) = try await forked(ds, #"[{"from":"source"}]"#, ct: js)
        #expect(try await ds.post(fk, ct: js, body: #"[{"from":"fork"}]"#).status == 204)
        #expect(jsonEqual(try await ds.get(fk, "offset=-1").json, #"[{"from":"source"},{"from":"fork"}]"#))
    }

    // §4.33 line 10892
    @Test("should handle fork then immediately delete source", arguments: Family.allCases)
    func forkThenDeleteSource(_ f: Family) async throws {
        let ds = DS(f), (src, fk) = try await forked(ds, "ephemeral")
        #expect(try await ds.delete(src).status == 204)
        #expect(try await ds.get(fk, "offset=-1").text == "ephemeral")
    }

    // §4.33 line 10923
    @Test("should handle many forks of same stream (10 forks)", arguments: Family.allCases)
    func manyForks(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src")
        try await ds.put(src, body: "shared data")
        let forks = (0..<10).map { ds.stream("fork\($0)") }
        for fk in forks { #expect(try await ds.fork(fk, from: src).status == 201) }
        for fk in forks { #expect(try await ds.get(fk, "offset=-1").text == "shared data") }
        for fk in forks { #expect(try await ds.delete(fk).status == 204) }
    }

    // §4.33 line 10963
    @Test("should fork at every offset position", arguments: Family.allCases)
    func forkEveryOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src")
        let o1 = try #require(try await ds.put(src, body: "A").nextOffset)
        let o2 = try #require(try await ds.post(src, body: "B").nextOffset)
        let o3 = try #require(try await ds.post(src, body: "C").nextOffset)
        for (offset, expected) in [(zeroOffset, ""), (o1, "A"), (o2, "AB"), (o3, "ABC")] {
            let fk = ds.stream("fork")
            #expect(try await ds.fork(fk, from: src, offset: offset).status == 201)
            #expect(try await ds.get(fk, "offset=-1").text == expected, "fork at \(offset)")
        }
    }

    // §4.33 line 11052
    @Test("should handle idempotent fork creation (PUT twice)", arguments: Family.allCases)
    func idempotentFork(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "data")
        #expect(try await ds.fork(fk, from: src).status == 201)
        #expect(try await ds.fork(fk, from: src).status == 200)
    }
}
