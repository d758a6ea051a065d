import Foundation
import Testing

/// Conformance §4.24 Stream Closure.
@Suite("Stream Closure", .conformance)
struct ClosureTests {
    private let sc = [("Stream-Closed", "true")]

    private func producer(_ id: String, _ e: Int, _ s: Int) -> [(String, String)] { ProducerTests.producer(id, e, s) }

    // §4.24 line 6802
    @Test("create-closed-stream: PUT with Stream-Closed: true creates closed stream", arguments: Family.allCases)
    func createClosed(_ f: Family) async throws {
        let ds = DS(f)
        let r = try await ds.put(ds.stream(), sc)
        #expect(r.status == 201)
        #expect(r.closed)
        #expect(r.nextOffset?.isEmpty == false)
    }

    // §4.24 line 6818
    @Test("create-closed-stream-with-body: PUT with body + Stream-Closed: true", arguments: Family.allCases)
    func createClosedWithBody(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let r = try await ds.put(p, body: "initial content", sc)
        #expect(r.status == 201)
        #expect(r.closed)
        let g = try await ds.get(p)
        #expect(g.text == "initial content")
        #expect(g.closed)
    }

    // §4.24 line 6840
    @Test("create-closed-returns-header: Response includes Stream-Closed: true", arguments: Family.allCases)
    func createClosedHeader(_ f: Family) async throws {
        let ds = DS(f)
        let r = try await ds.put(ds.stream(), sc)
        #expect(r.status == 201)
        #expect(r.header("Stream-Closed") == "true")
    }

    // §4.24 line 6861
    @Test("close-stream-empty-post: POST with Stream-Closed: true, empty body closes stream", arguments: Family.allCases)
    func closeEmptyPost(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let r = try await ds.close(p)
        #expect(r.status == 204)
        #expect(r.closed)
    }

    // §4.24 line 6880
    @Test("close-with-final-append: POST with body + Stream-Closed: true", arguments: Family.allCases)
    func closeWithFinalAppend(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        try await ds.post(p, body: "first message")
        let r = try await ds.post(p, body: "final message", sc)
        #expect(r.status == 204)
        #expect(r.closed)
        #expect(try await ds.get(p).text == "first messagefinal message")
    }

    // §4.24 line 6915
    @Test("close-returns-offset-and-header: Response includes Stream-Next-Offset and Stream-Closed: true", arguments: Family.allCases)
    func closeReturnsOffset(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "content")
        let r = try await ds.close(p)
        #expect(r.status == 204)
        #expect(r.nextOffset?.isEmpty == false)
        #expect(r.closed)
    }

    // §4.24 line 6936
    @Test("close-idempotent: Closing already-closed stream (empty body) returns 204", arguments: Family.allCases)
    func closeIdempotent(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.close(p).status == 204)
        let r = try await ds.close(p)
        #expect(r.status == 204)
        #expect(r.closed)
    }

    // §4.24 line 6961
    @Test("close-only-ignores-content-type: Close-only with mismatched Content-Type still succeeds", arguments: Family.allCases)
    func closeIgnoresContentType(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, ct: js)
        let r = try await ds.request("POST", p, headers: [("Content-Type", tp), ("Stream-Closed", "true")], body: [])
        #expect(r.status == 204)
        #expect(r.closed)
    }

    // §4.24 line 6983
    @Test("append-to-closed-stream-409: Append to closed stream returns 409 with Stream-Closed: true header", arguments: Family.allCases)
    func appendToClosed(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        try await ds.close(p)
        let r = try await ds.post(p, body: "should fail")
        #expect(r.status == 409)
        #expect(r.closed)
    }

    // §4.24 line 7008
    @Test("append-and-close-to-closed-stream-409: POST with body + Stream-Closed: true to already-closed stream returns 409", arguments: Family.allCases)
    func appendAndCloseToClosed(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        try await ds.close(p)
        let r = try await ds.post(p, body: "more", sc)
        #expect(r.status == 409)
        #expect(r.closed)
    }

    // §4.24 line 7042
    @Test("head-closed-stream: HEAD returns Stream-Closed: true header", arguments: Family.allCases)
    func headClosed(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        try await ds.close(p)
        let r = try await ds.head(p)
        #expect(r.status == 200)
        #expect(r.closed)
    }

    // §4.24 line 7065
    @Test("head-open-stream-no-closed-header: HEAD on open stream does NOT have Stream-Closed header", arguments: Family.allCases)
    func headOpen(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let r = try await ds.head(p)
        #expect(r.status == 200)
        #expect(r.header("Stream-Closed") == nil)
    }

    // §4.24 line 7089
    @Test("read-closed-stream-at-tail: Returns Stream-Closed: true at tail of closed stream", arguments: Family.allCases)
    func readClosedAtTail(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "content")
        try await ds.close(p)
        let r = try await ds.get(p)
        #expect(r.status == 200)
        #expect(r.text == "content")
        #expect(r.closed)
        #expect(r.upToDate)
    }

    // §4.24 line 7112
    @Test("read-closed-stream-partial-no-closed: Partial read of closed stream does NOT include Stream-Closed", arguments: Family.allCases)
    func readClosedPartial(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "first")
        let s = try #require(try await ds.post(p, body: "second").nextOffset)
        try await ds.close(p)
        let r = try await ds.get(p, "offset=-1")
        #expect(r.status == 200)
        if r.nextOffset == s || r.text == "firstsecond" {
            #expect(r.closed)
        } else if !r.body.isEmpty {
            #expect(!r.closed)
        }
    }

    // §4.24 line 7161
    @Test("read-closed-stream-empty-body-eof: At tail of closed stream: 200 OK, empty body, Stream-Closed: true", arguments: Family.allCases)
    func readClosedEOF(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "content")
        let t = try #require(try await ds.close(p).nextOffset)
        let r = try await ds.get(p, "offset=\(urlEncode(t))")
        #expect(r.status == 200)
        #expect(r.text == "")
        #expect(r.closed)
        #expect(r.upToDate)
    }

    // §4.24 line 7195
    @Test("longpoll-closed-stream-immediate: No wait when closed stream at tail, returns immediately", arguments: Family.allCases)
    func longPollClosedImmediate(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let t = try #require(try await ds.close(p).nextOffset)
        do {
            let (r, elapsed) = try await timed {
                try await within(.seconds(5)) { try await ds.get(p, "offset=\(urlEncode(t))&live=long-poll") }
            }
            #expect(r.status == 204)
            #expect(r.closed)
            #expect(elapsed < .milliseconds(ConformanceServer.longPollTimeoutSeconds * 1000 / 2))
        }
    }

    // §4.24 line 7229
    @Test("longpoll-closed-returns-204-with-header: Returns 204 with Stream-Closed: true", arguments: Family.allCases)
    func longPollClosed204(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        let t = try #require(try await ds.close(p).nextOffset)
        do {
            let r = try await within(.seconds(5)) { try await ds.get(p, "offset=\(urlEncode(t))&live=long-poll") }
            #expect(r.status == 204)
            #expect(r.closed)
            #expect(r.upToDate)
            #expect(r.nextOffset?.isEmpty == false)
        }
    }

    // §4.24 line 7266
    @Test("sse-closed-stream-control-event: Final control event has streamClosed: true", arguments: Family.allCases)
    func sseClosedControl(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "content")
        let t = try #require(try await ds.close(p).nextOffset)
        do {
            let r = try await SSEClient.fetch("\(p)?offset=\(urlEncode(t))&live=sse", until: "streamClosed", timeout: .seconds(5))
            #expect(r.status == 200)
            #expect(try #require(r.controls.last)["streamClosed"] as? Bool == true)
        }
    }

    // §4.24 line 7299
    @Test("sse-closed-stream-no-cursor: streamCursor omitted when streamClosed is true", arguments: Family.allCases)
    func sseClosedNoCursor(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let t = try #require(try await ds.close(p).nextOffset)
        do {
            let r = try await SSEClient.fetch("\(p)?offset=\(urlEncode(t))&live=sse", until: "streamClosed", timeout: .seconds(5))
            let last = try #require(r.controls.last)
            #expect(last["streamClosed"] as? Bool == true)
            #expect(last["streamCursor"] == nil)
        }
    }

    // §4.24 line 7332
    @Test("sse-closed-stream-connection-closes: Connection closes after final event", arguments: Family.allCases)
    func sseClosedConnectionCloses(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        try await ds.close(p)
        do {
            let (r, elapsed) = try await timed { try await SSEClient.fetch("\(p)?offset=-1&live=sse", timeout: .seconds(10), maxChunks: 20) }
            #expect(r.status == 200)
            #expect(r.text.contains("streamClosed"))
            #expect(r.ended, "the server did not end the SSE body")
            #expect(elapsed < .seconds(10))
        }
    }

    // §4.24 line 7384
    @Test("sse-live-reader-receives-final-append-on-close: live reader at tail receives data appended atomically with the close", arguments: Family.allCases)
    func sseLiveReaderFinalAppend(_ f: Family) async throws {
        let ds = DS(f)
        do {
            for delay in stride(from: 40, through: 98, by: 5) {
                let p = ds.stream()
                let t = try #require(try await ds.put(p, body: "initial").nextOffset)
                let reader = Task { try await SSEClient.fetch("\(p)?offset=\(urlEncode(t))&live=sse", until: "streamClosed", timeout: .seconds(5), maxChunks: 30) }
                try await Task.sleep(for: .milliseconds(delay))
                #expect(try await ds.post(p, body: "sse-data", sc).status == 204)
                let r = try await reader.value
                let events = r.events
                let dataIndex = try #require(events.firstIndex { $0.type == "data" && $0.data.contains("sse-data") }, "delay \(delay): no data event")
                let closedIndex = try #require(events.lastIndex { $0.type == "control" && $0.data.contains("\"streamClosed\":true") }, "delay \(delay): no closing control")
                #expect(dataIndex < closedIndex, "delay \(delay)")
            }
        }
    }

    // §4.24 line 7458
    @Test("idempotent-close-with-append: Close with final append using producer headers", arguments: Family.allCases)
    func producerCloseWithAppend(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let r = try await ds.post(p, body: "final message", sc + producer("test-producer", 0, 0))
        #expect(r.status == 200)
        #expect(r.closed)
        #expect(r.header("Producer-Epoch") == "0")
        #expect(r.header("Producer-Seq") == "0")
        #expect(try await ds.get(p).text == "final message")
    }

    // §4.24 line 7490
    @Test("idempotent-close-only-with-producer-headers: Close-only with producer headers updates state", arguments: Family.allCases)
    func producerCloseOnly(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "message", producer("test-producer", 0, 0)).status == 200)
        let r = try await ds.close(p, producer("test-producer", 0, 1))
        #expect(r.status == 204)
        #expect(r.closed)
        #expect(r.header("Producer-Epoch") == "0")
        #expect(r.header("Producer-Seq") == "1")
    }

    // §4.24 line 7528
    @Test("idempotent-close-duplicate-returns-204: Duplicate close (same tuple) returns 204", arguments: Family.allCases)
    func producerCloseDuplicate(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "final", sc + producer("test-producer", 0, 0)).status == 200)
        let r = try await ds.post(p, body: "final", sc + producer("test-producer", 0, 0))
        #expect(r.status == 204)
        #expect(r.closed)
    }

    // §4.24 line 7568
    @Test("idempotent-close-different-tuple-returns-409: Different producer/seq gets 409", arguments: Family.allCases)
    func producerCloseDifferentTuple(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "final", sc + producer("producer-A", 0, 0)).status == 200)
        let r = try await ds.post(p, body: "other", sc + producer("producer-B", 0, 0))
        #expect(r.status == 409)
        #expect(r.closed)
    }

    // §4.24 line 7607
    @Test("idempotent-close-different-seq-returns-409: Same producer, different seq gets 409", arguments: Family.allCases)
    func producerCloseDifferentSeq(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "final", sc + producer("test-producer", 0, 0)).status == 200)
        let r = try await ds.post(p, body: "again", sc + producer("test-producer", 0, 1))
        #expect(r.status == 409)
        #expect(r.closed)
    }

    // §4.24 line 7646
    @Test("idempotent-close-only-duplicate-returns-204: Duplicate close-only (no body) returns 204", arguments: Family.allCases)
    func producerCloseOnlyDuplicate(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.close(p, producer("test-producer", 0, 0)).status == 204)
        let r = try await ds.close(p, producer("test-producer", 0, 0))
        #expect(r.status == 204)
        #expect(r.closed)
    }

    // §4.24 line 7693
    @Test("409-includes-stream-offset: 409 for closed stream includes Stream-Next-Offset header", arguments: Family.allCases)
    func conflictIncludesOffset(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "some content")
        let final = try #require(try await ds.close(p).nextOffset)
        let r = try await ds.post(p, body: "should fail")
        #expect(r.status == 409)
        #expect(r.closed)
        #expect(r.nextOffset == final)
    }

    // §4.24 line 7725
    @Test("close-nonexistent-stream-404: POST with Stream-Closed to nonexistent stream returns 404", arguments: Family.allCases)
    func closeMissing(_ f: Family) async throws {
        let ds = DS(f)
        #expect(try await ds.close(ds.stream()).status == 404)
    }

    // §4.24 line 7736
    @Test("offset-now-on-closed-stream: offset=now on closed stream returns Stream-Closed: true", arguments: Family.allCases)
    func offsetNowClosed(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        try await ds.close(p)
        let r = try await ds.get(p, "offset=now")
        #expect(r.status == 200)
        #expect(r.closed)
        #expect(r.upToDate)
    }

    // §4.24 line 7761
    @Test("producer-state-survives-close: Stale-epoch producer gets 403, not 409 STREAM_CLOSED", arguments: Family.allCases)
    func producerStateSurvivesClose(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "first", producer("A", 0, 0)).status == 200)
        #expect(try await ds.post(p, body: "final", sc + producer("A", 1, 0)).status == 200)
        let r = try await ds.post(p, body: "stale attempt", sc + producer("A", 0, 1))
        #expect([403, 409].contains(r.status))
    }

    // §4.24 line 7813
    @Test("close-with-different-body-dedup: Retry close with different body deduplicates to original", arguments: Family.allCases)
    func closeDedupDifferentBody(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "body-A", sc + producer("test-producer", 0, 0)).status == 200)
        #expect(try await ds.post(p, body: "body-B", sc + producer("test-producer", 0, 0)).status == 204)
        #expect(try await ds.get(p).text == "body-A")
    }

    // §4.24 line 7856
    @Test("empty-post-without-stream-closed-400: POST with empty body but no Stream-Closed returns 400", arguments: Family.allCases)
    func emptyPostWithoutClose(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        #expect(try await ds.post(p, body: "").status == 400)
    }

    // §4.24 line 7875
    @Test("delete-closed-stream: Deleting a closed stream removes it (returns 404 after)", arguments: Family.allCases)
    func deleteClosed(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        try await ds.close(p)
        #expect(try await ds.head(p).closed)
        #expect([200, 204].contains(try await ds.delete(p).status))
        #expect(try await ds.head(p).status == 404)
    }
}
