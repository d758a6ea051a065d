import Foundation
import NIOCore
import RunnelTesting
import Testing

/// The shared SSE fan-out (`SSEFanout`, docs/hot-path.md step 4): readers at the tail are
/// written to by one pump per stream instead of by their own tasks. What they receive must be
/// byte for byte what the task path sends, through every way a follow ends: more bytes than one
/// shared batch, the stream closed, the stream deleted.
@Suite(.serialized) struct SSEFanoutTests {
    /// Three media types (text with line breaks, JSON, binary in base64), two readers each.
    static let streams = [("text", "text/plain"), ("json", "application/json"), ("bin", "application/octet-stream")]

    /// The appends, in order, for a stream of `contentType`; the fourth is larger than one
    /// shared batch, so its readers go back to their tasks and are followed again after.
    static func appends(_ contentType: String) -> [[UInt8]] {
        switch contentType {
        case "application/json":
            return [Array(#"{"n":1}"#.utf8), Array(#"[{"n":2},{"n":3}]"#.utf8), Array(#""three""#.utf8),
                    Array(("[" + (0..<30_000).map { #"{"i":\#($0)}"# }.joined(separator: ",") + "]").utf8), Array("5".utf8)]
        case "application/octet-stream":
            return [[0, 1, 2, 255], Array(0...255), [10, 13, 10], [UInt8](repeating: 0xAB, count: 300 << 10), [7]]
        default:
            return [Array("one".utf8), Array("two\nlines".utf8), Array("three\r\nfour\rfive".utf8),
                    [UInt8](repeating: UInt8(ascii: "x"), count: 300 << 10), Array("last".utf8)]
        }
    }

    /// Runs the session on a node with the fan-out on or off; returns each reader's whole body
    /// (cursors masked) by stream, and the fan-out's write count.
    private func session(fanout: Bool) async throws -> (bodies: [String: [String]], fanoutWrites: Double) {
        let dir = RunnelProcess.temporaryDirectory("fanout-\(fanout)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir, arguments: ["--sse-fanout", String(fanout)])
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        defer { Task { await client.close() } }
        for (name, type) in Self.streams {
            #expect(try await client.request("PUT", "/v1/stream/\(name)", headers: [("Content-Type", type)]).status == 201)
        }
        let readersPerStream = 2
        let seen = Locked([String: String]())  // reader → the last streamNextOffset it saw
        return try await withThrowingTaskGroup(of: (String, String).self) { group in
            for (name, _) in Self.streams {
                for r in 0..<readersPerStream {
                    group.addTask {
                        let reader = try await HTTPTestClient(port: node.port)
                        var sse = SSEEventReader()
                        var body: [UInt8] = []
                        let (status, ended) = try await reader.stream("/v1/stream/\(name)?offset=-1&live=sse", timeout: .seconds(60)) { buffer in
                            body += buffer.readableBytesView
                            for event in sse.feed(buffer) where event.type == "control" {
                                if let next = event.control?["streamNextOffset"] as? String { seen.withLock { $0["\(name)/\(r)"] = next } }
                            }
                            return true
                        }
                        await reader.close()
                        #expect(status == 200 && ended, "\(name): status \(status), ended \(ended)")
                        let text = String(decoding: body, as: UTF8.self)
                            .replacingOccurrences(of: #""streamCursor":"[0-9]+""#, with: #""streamCursor":"*""#, options: .regularExpression)
                        return (name, text)
                    }
                }
            }
            /// Waits until every reader of `name` has been sent everything up to `offset`.
            func delivered(_ name: String, _ offset: String) async throws {
                try await waitUntil("\(name) readers reach \(offset)", timeout: .seconds(20)) {
                    seen.withLock { s in (0..<readersPerStream).allSatisfy { s["\(name)/\($0)"] == offset } }
                }
            }
            for (name, type) in Self.streams {
                try await delivered(name, "0000000000000000_0000000000000000")
                // One append at a time, each delivered before the next: the events are then
                // the same whichever path wrote them.
                for body in Self.appends(type) {
                    let r = try await client.request("POST", "/v1/stream/\(name)", headers: [("Content-Type", type)], body: body)
                    #expect(r.status == 204)
                    try await delivered(name, try #require(r.header("Stream-Next-Offset")))
                }
                let closed = try await client.request("POST", "/v1/stream/\(name)", headers: [("Stream-Closed", "true")])
                #expect(closed.status == 204)
            }
            var bodies: [String: [String]] = [:]
            for try await (name, text) in group { bodies[name, default: []].append(text) }
            return (bodies, try await metric("runnel_sse_fanout_writes_total", client) ?? -1)
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func readersGetTheSameBytesWithAndWithoutTheFanout() async throws {
        let on = try await session(fanout: true)
        let off = try await session(fanout: false)
        // Each stream's appends that fit a batch went through the fan-out: 4 per reader.
        #expect(on.fanoutWrites >= Double(Self.streams.count * 2 * 4), "fan-out writes: \(on.fanoutWrites)")
        #expect(off.fanoutWrites == 0)
        for (name, _) in Self.streams {
            let a = try #require(on.bodies[name]), b = try #require(off.bodies[name])
            #expect(Set(a).count == 1 && Set(b).count == 1, "\(name): readers of one node differ")
            #expect(a.first == b.first, "\(name): the bodies differ with and without the fan-out")
            #expect(a.first?.contains("\"streamClosed\":true") == true)
        }
    }

    /// Deleting a stream ends its followers' responses (as the task path does), and a follower
    /// that disconnects is forgotten.
    @Test(.timeLimit(.minutes(2)))
    func deletingTheStreamEndsItsFollowers() async throws {
        let dir = RunnelProcess.temporaryDirectory("fanout-delete")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir)
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        defer { Task { await client.close() } }
        #expect(try await client.request("PUT", "/v1/stream/gone", headers: [("Content-Type", "text/plain")]).status == 201)

        // A follower that goes away is removed.
        let leaving = try await HTTPTestClient(port: node.port)
        _ = try await leaving.stream("/v1/stream/gone?offset=-1&live=sse") { _ in false }
        try await waitUntil("the leaving reader follows", timeout: .seconds(10)) { try await metric("runnel_live_readers", client) == 1 }
        await leaving.close()
        try await waitUntil("the leaving reader is forgotten", timeout: .seconds(10)) { try await metric("runnel_live_readers", client) == 0 }

        let reader = try await HTTPTestClient(port: node.port)
        let staying = Task {
            var events = SSEEventReader()
            var data = 0
            let result = try await reader.stream("/v1/stream/gone?offset=-1&live=sse", timeout: .seconds(30)) { buffer in
                data += events.feed(buffer).filter { $0.type == "data" }.count
                return true
            }
            return (result.ended, data)
        }
        try await waitUntil("the reader follows", timeout: .seconds(10)) { try await metric("runnel_live_readers", client) == 1 }
        #expect(try await client.request("POST", "/v1/stream/gone", headers: [("Content-Type", "text/plain")], body: Array("hi".utf8)).status == 204)
        try await waitUntil("the fan-out wrote", timeout: .seconds(10)) { try await metric("runnel_sse_fanout_writes_total", client) == 1 }
        #expect(try await client.request("DELETE", "/v1/stream/gone").status == 204)
        let (ended, data) = try await staying.value
        #expect(ended && data == 1)
        await reader.close()
        #expect(try await metric("runnel_live_readers", client) == 0)
    }

    /// Over HTTP/2 the response's channel is an HTTP/2 stream, not the connection: the fan-out
    /// writes there, and an independent client (curl, HTTP/2 over TLS by ALPN) gets the events
    /// and the end of the body when the stream closes.
    @Test(.timeLimit(.minutes(2)))
    func followersOverHTTP2GetTheEvents() async throws {
        let dir = RunnelProcess.temporaryDirectory("fanout-h2")
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: dir + "-certs") }
        let (cert, key) = try TestCertificate.selfSigned(in: dir + "-certs")
        let node = RunnelProcess(dataDirectory: dir, arguments: ["--tls-cert", cert, "--tls-key", key])
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port, trustRoot: cert)
        defer { Task { await client.close() } }
        #expect(try await client.request("PUT", "/v1/stream/h2", headers: [("Content-Type", "text/plain")]).status == 201)

        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-sSN", "--http2", "--cacert", cert, "-m", "60", "-w", "\nhttp-version:%{http_version}\n",
                          "https://127.0.0.1:\(node.port)/v1/stream/h2?offset=-1&live=sse"]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        defer { if curl.isRunning { curl.terminate() } }
        try await waitUntil("the HTTP/2 reader follows", timeout: .seconds(20)) { try await metric("runnel_live_readers", client) == 1 }
        for (i, text) in ["over", "h2"].enumerated() {
            #expect(try await client.request("POST", "/v1/stream/h2", headers: [("Content-Type", "text/plain")], body: Array(text.utf8)).status == 204)
            try await waitUntil("the fan-out wrote append \(i + 1)", timeout: .seconds(10)) {
                try await metric("runnel_sse_fanout_writes_total", client) == Double(i + 1)
            }
        }
        #expect(try await client.request("POST", "/v1/stream/h2", headers: [("Stream-Closed", "true")]).status == 204)
        // curl exits when the body ends (the stream closed).
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        #expect(curl.terminationStatus == 0, "curl: \(text)")
        #expect(text.contains("event: data\ndata:over\n") && text.contains("event: data\ndata:h2\n"), "\(text)")
        #expect(text.contains("\"streamClosed\":true") && text.hasSuffix("http-version:2\n"), "\(text)")
    }
}
