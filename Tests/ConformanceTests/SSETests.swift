import Foundation
import Testing

/// Conformance §4.20 SSE Mode, read incrementally over a raw socket (`SSEClient`).
@Suite("SSE Mode", .conformance)
struct SSETests {
    /// An SSE read of `p` (the suite's `fetchSSE`), with `query` after `live=sse`.
    private func sse(_ p: String, _ query: String = "offset=-1", until: String? = nil,
                     timeout: Duration = .seconds(2), maxChunks: Int = 10) async throws -> SSEResponse {
        try await SSEClient.fetch("\(p)?\(query)&live=sse", until: until, timeout: timeout, maxChunks: maxChunks)
    }

    /// The first control event's JSON by the suite's regex `event: control\s*\ndata:({[^}]+})`.
    private func firstControlByRegex(_ text: String) -> [String: Any]? {
        guard let match = text.range(of: #"event: control\s*\ndata:(\{[^}]+\})"#, options: .regularExpression) else { return nil }
        let matched = String(text[match])
        guard let brace = matched.firstIndex(of: "{") else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(matched[brace...].utf8)) as? [String: Any]
    }

    private func decodeBase64(_ data: String) -> [UInt8]? {
        Data(base64Encoded: data.filter { !$0.isWhitespace }).map { [UInt8]($0) }
    }

    // §4.20 line 3387
    @Test("should return text/event-stream content-type for SSE requests", arguments: Family.allCases)
    func contentType(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        do {
            let r = try await sse(p)
            #expect(r.status == 200)
            #expect(r.header("Content-Type") == "text/event-stream")
        }
    }

    // §4.20 line 3407
    @Test("should accept live=sse query parameter for application/json", arguments: Family.allCases)
    func jsonContentType(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, ct: js, body: #"{"a":1}"#)
        do {
            let r = try await sse(p)
            #expect(r.status == 200)
            #expect(r.header("Content-Type") == "text/event-stream")
        }
    }

    // §4.20 line 3426
    @Test("should require offset parameter for SSE mode", arguments: Family.allCases)
    func requiresOffset(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        do {
            let r = try await ds.get(p, "live=sse")
            #expect(r.status == 400)
        }
    }

    // §4.20 line 3443
    @Test("should stream data events via SSE", arguments: Family.allCases)
    func dataEvents(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "message one")
        try await ds.post(p, body: "message two")
        do {
            let r = try await sse(p, until: "message two")
            #expect(r.status == 200)
            #expect(r.text.contains("event:"))
            #expect(r.text.contains("data:"))
            #expect(r.text.contains("message two"))
        }
    }

    // §4.20 line 3473
    @Test("should send control events with offset", arguments: Family.allCases)
    func controlEvents(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        do {
            let r = try await sse(p, until: "event: control")
            #expect(r.text.contains("event: control"))
            #expect(r.text.contains("streamNextOffset"))
        }
    }

    // §4.20 line 3496
    @Test("should generate streamCursor in SSE control events", arguments: Family.allCases)
    func streamCursor(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        do {
            let r = try await sse(p, until: "streamCursor")
            let control = try #require(firstControlByRegex(r.text))
            let cursor = try #require(control["streamCursor"] as? String)
            #expect(!cursor.isEmpty && cursor.allSatisfy(\.isASCIIDigit))
        }
    }

    // §4.20 line 3524
    @Test("should handle cursor collision with jitter in SSE mode", arguments: Family.allCases)
    func cursorCollision(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        do {
            let r1 = try await sse(p, until: "streamCursor")
            let c1 = try #require((firstControlByRegex(r1.text)?["streamCursor"] as? String).flatMap { Int($0) })
            let r2 = try await sse(p, "cursor=\(c1)&offset=-1", until: "streamCursor")
            let c2 = try #require((firstControlByRegex(r2.text)?["streamCursor"] as? String).flatMap { Int($0) })
            #expect(c2 > c1)
        }
    }

    // §4.20 line 3560
    @Test("should wrap JSON data in arrays for SSE and produce valid JSON", arguments: Family.allCases)
    func jsonArrays(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, ct: js, body: #"{"id":1,"message":"hello"}"#)
        do {
            let r = try await sse(p, until: "event: control")
            let data = try #require(r.dataEvents.first)
            #expect(jsonEqual(try JSONSerialization.jsonObject(with: Data(data.data.utf8)), #"[{"id":1,"message":"hello"}]"#))
        }
    }

    // §4.20 line 3590
    @Test("should handle SSE for empty stream with correct offset", arguments: Family.allCases)
    func emptyStreamOffset(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        let h = try #require(try await ds.get(p).nextOffset)
        #expect(h != "-1")
        do {
            let r = try await sse(p, until: "streamNextOffset")
            let line = try #require(r.text.split(separator: "\n").first { $0.hasPrefix("data:") && $0.contains("streamNextOffset") })
            let control = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(5).utf8)) as? [String: Any])
            #expect(control["streamNextOffset"] as? String == h)
        }
    }

    // §4.20 line 3628
    @Test("should send upToDate flag in SSE control events when caught up", arguments: Family.allCases)
    func upToDateFlag(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "test data")
        do {
            let r = try await sse(p, until: "\"upToDate\"")
            #expect(try #require(r.controls.first)["upToDate"] as? Bool == true)
        }
    }

    // §4.20 line 3660
    @Test("should have correct SSE headers (no Content-Length, proper Cache-Control)", arguments: Family.allCases)
    func sseHeaders(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "data")
        do {
            let r = try await sse(p)
            #expect(r.header("Content-Type") == "text/event-stream")
            #expect(r.header("Content-Length") == nil)
            #expect(r.header("Cache-Control")?.contains("no-cache") == true)
        }
    }

    // §4.20 line 3689
    @Test("should handle newlines in text/plain payloads", arguments: Family.allCases)
    func newlinesInText(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "line1\nline2\nline3")
        do {
            let r = try await sse(p, until: "event: control")
            for line in ["data:line1", "data:line2", "data:line3"] { #expect(r.text.contains(line)) }
        }
    }

    // §4.20 line 3714
    @Test("should prevent CRLF injection in payloads - embedded event boundaries become literal data", arguments: Family.allCases)
    func crlfInjection(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "safe content\r\n\r\nevent: control\r\ndata: {\"injected\":true}\r\n\r\nmore safe content")
        do {
            let r = try await sse(p, until: "streamNextOffset")
            #expect(r.dataEvents.count == 1)
            #expect(r.controls.count == 1)
            let data = try #require(r.dataEvents.first).data
            #expect(data.contains("event: control"))
            #expect(data.contains("data: {\"injected\":true}"))
            let control = try #require(r.controls.first)
            #expect(control["injected"] == nil)
            #expect(control["streamNextOffset"] != nil)
        }
    }

    // §4.20 line 3756
    @Test("should prevent CRLF injection - LF-only attack vectors", arguments: Family.allCases)
    func lfInjection(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "start\n\nevent: data\ndata: fake-event\n\nend")
        do {
            let r = try await sse(p, until: "streamNextOffset")
            #expect(r.dataEvents.count == 1)
            let data = try #require(r.dataEvents.first).data
            #expect(data.contains("event: data"))
            #expect(data.contains("data: fake-event"))
        }
    }

    // §4.20 line 3788
    @Test("should prevent CRLF injection - carriage return only attack vectors", arguments: Family.allCases)
    func crInjection(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "start\r\revent: control\rdata: {\"cr_injected\":true}\r\rend")
        do {
            let r = try await sse(p, until: "streamNextOffset")
            #expect(r.controls.count == 1)
            let control = try #require(r.controls.first)
            #expect(control["cr_injected"] == nil)
            #expect(control["streamNextOffset"] != nil)
        }
    }

    // §4.20 line 3819
    @Test("should handle JSON payloads with embedded newlines safely", arguments: Family.allCases)
    func jsonEmbeddedNewlines(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, ct: js, body: #"{"message":"line1\nline2\nline3","attack":"x\r\n\r\nevent: control\r\ndata: {\"bad\":true}"}"#)
        do {
            let r = try await sse(p, until: "streamNextOffset")
            #expect(r.dataEvents.count == 1)
            #expect(r.controls.count == 1)
            let event = try #require(r.dataEvents.first)
            let array = try #require(try JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [[String: Any]])
            #expect(array.first?["message"] as? String == "line1\nline2\nline3")
            #expect(r.controls.first?["bad"] == nil)
        }
    }

    // §4.20 line 3862
    @Test("should generate unique, monotonically increasing offsets in SSE mode", arguments: Family.allCases)
    func monotonicOffsets(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p)
        for i in 0..<5 { try await ds.post(p, body: "message \(i)") }
        do {
            let r = try await sse(p, until: "event: control")
            let offsets = r.controls.compactMap { $0["streamNextOffset"] as? String }
            #expect(!offsets.isEmpty)
            for (a, b) in zip(offsets, offsets.dropFirst()) { #expect(a < b) }
        }
    }

    // §4.20 line 3906
    @Test("should support reconnection with last known offset", arguments: Family.allCases)
    func reconnection(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "message 1")
        try await ds.post(p, body: "message 2")
        do {
            let r1 = try await sse(p, until: "\"upToDate\"")
            let last = try #require(r1.controls.last?["streamNextOffset"] as? String)
            try await ds.post(p, body: "message 3")
            let r2 = try await sse(p, "offset=\(urlEncode(last))", until: "message 3")
            #expect(r2.text.contains("message 3"))
            #expect(!r2.text.contains("message 1"))
            #expect(!r2.text.contains("message 2"))
        }
    }

    // §4.20 line 3970
    @Test("should auto-detect binary streams and return base64 encoded data in SSE mode", arguments: Family.allCases)
    func base64AutoDetect(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, ct: os, body: "Hello")
        do {
            let r = try await sse(p, until: "streamNextOffset")
            #expect(r.header("Content-Type") == "text/event-stream")
            #expect(r.dataEvents.count == 1)
            #expect(r.dataEvents.first?.data.filter { !$0.isWhitespace } == "SGVsbG8=")
            #expect(r.controls.count == 1)
            #expect(r.controls.first?["streamNextOffset"] != nil)
        }
    }

    // §4.20 line 4008
    @Test("should include Stream-SSE-Data-Encoding header for binary streams", arguments: Family.allCases)
    func encodingHeaderBinary(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.putBytes(p, ct: os, body: [1, 2, 3])
        do {
            let r = try await sse(p)
            #expect(r.status == 200)
            #expect(r.header("Stream-SSE-Data-Encoding") == "base64")
        }
    }

    // §4.20 line 4031
    @Test("should NOT include Stream-SSE-Data-Encoding header for text/plain streams", arguments: Family.allCases)
    func encodingHeaderText(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, body: "text")
        do {
            let r = try await sse(p)
            #expect(r.status == 200)
            #expect(r.header("Stream-SSE-Data-Encoding") == nil)
        }
    }

    // §4.20 line 4053
    @Test("should NOT include Stream-SSE-Data-Encoding header for application/json streams", arguments: Family.allCases)
    func encodingHeaderJSON(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, ct: js, body: #"{"a":1}"#)
        do {
            let r = try await sse(p)
            #expect(r.status == 200)
            #expect(r.header("Stream-SSE-Data-Encoding") == nil)
        }
    }

    // §4.20 line 4075
    @Test("should base64 encode data events only, control events remain JSON", arguments: Family.allCases)
    func controlStaysJSON(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.putBytes(p, ct: os, body: [0xff, 0xfe, 0xfd])
        do {
            let r = try await sse(p, until: "streamNextOffset")
            #expect(r.controls.count == 1)
            #expect(r.controls.first?["streamNextOffset"] is String)
            #expect(r.controls.first?["streamCursor"] != nil)
        }
    }

    // §4.20 line 4105
    @Test("should handle empty binary payload with auto-detected base64 encoding", arguments: Family.allCases)
    func emptyBinary(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.putBytes(p, ct: os, body: nil)
        do {
            let r = try await sse(p, until: "streamNextOffset")
            let first = try #require(r.controls.first)
            #expect(first["upToDate"] as? Bool == true)
        }
    }

    // §4.20 line 4131
    @Test("should handle large binary payload with auto-detected base64 encoding", arguments: Family.allCases)
    func largeBinary(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let bytes = (0..<1024).map { UInt8($0 % 256) }
        try await ds.putBytes(p, ct: os, body: bytes)
        do {
            let r = try await sse(p, until: "streamNextOffset", timeout: .seconds(5))
            #expect(r.dataEvents.count == 1)
            #expect(r.dataEvents.first.flatMap { decodeBase64($0.data) } == bytes)
        }
    }

    // §4.20 line 4168
    @Test("should handle binary data with special bytes using auto-detected base64 encoding", arguments: Family.allCases)
    func specialBytes(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let bytes: [UInt8] = [0x00, 0x0a, 0x0d, 0xff, 0xfe, 0x00, 0x0a, 0x0d]
        try await ds.putBytes(p, ct: os, body: bytes)
        do {
            let r = try await sse(p, until: "streamNextOffset")
            #expect(r.dataEvents.count == 1)
            #expect(r.dataEvents.first.flatMap { decodeBase64($0.data) } == bytes)
        }
    }

    // §4.20 line 4207
    @Test("should auto-detect base64 encoding for application/x-protobuf streams", arguments: Family.allCases)
    func protobuf(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let bytes: [UInt8] = [0x08, 0x96, 0x01, 0x12, 0x04, 0x74, 0x65, 0x73]
        try await ds.putBytes(p, ct: "application/x-protobuf", body: bytes)
        do {
            let r = try await sse(p, until: "streamNextOffset")
            #expect(r.dataEvents.first.flatMap { decodeBase64($0.data) } == bytes)
        }
    }

    // §4.20 line 4236
    @Test("should auto-detect base64 encoding for image/png streams", arguments: Family.allCases)
    func png(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let bytes: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
        try await ds.putBytes(p, ct: "image/png", body: bytes)
        do {
            let r = try await sse(p, until: "streamNextOffset")
            #expect(r.dataEvents.first.flatMap { decodeBase64($0.data) } == bytes)
        }
    }

    // §4.20 line 4272
    @Test("should handle offset=now with auto-detected base64 encoding for binary streams", arguments: Family.allCases)
    func offsetNowBinary(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.putBytes(p, ct: os, body: [1, 2, 3])
        do {
            let r = try await sse(p, "offset=now", until: "\"upToDate\"")
            #expect(r.status == 200)
            #expect(r.controls.first?["upToDate"] as? Bool == true)
            #expect(r.dataEvents.isEmpty)
        }
    }
}
