import Foundation
import RunnelTesting
import Testing

/// Appends answered on the event loop (`AppendFastPath`, docs/hot-path.md) answer exactly as
/// the async path does, and keep pipelined answers in order when the two paths take turns on
/// one connection.
@Suite struct AppendFastPathTests {
    /// A node with the fast path on or off, and a stream to append to.
    static func withNode<T>(fast: Bool, extra: [String] = [], _ body: (RunnelProcess, HTTPTestClient) async throws -> T) async throws -> T {
        let dir = RunnelProcess.temporaryDirectory("fast-\(fast)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir, arguments: ["--fast-appends", String(fast)] + extra)
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        #expect(try await client.request("PUT", "/ds/_default/s", headers: [("Content-Type", "text/plain")]).status == 201)
        #expect(try await client.request("PUT", "/ds/_default/j", headers: [("Content-Type", "application/json")]).status == 201)
        return try await body(node, client)
    }

    /// The requests compared, each with the answer's status, headers (but `Date`) and body.
    static let cases: [(method: String, path: String, headers: [(String, String)], body: String)] = [
        ("POST", "/ds/_default/s", [("Content-Type", "text/plain")], "hello"),
        ("POST", "/streams/s", [("Content-Type", "text/plain")], " world"),
        ("POST", "/v1/stream/s", [("Content-Type", "text/plain"), ("Origin", "https://a.example")], "!"),
        ("POST", "/ds/_default/s", [("Content-Type", "text/plain"), ("Producer-Id", "p"), ("Producer-Epoch", "0"), ("Producer-Seq", "0")], "p0"),
        ("POST", "/ds/_default/s", [("Content-Type", "text/plain"), ("Producer-Id", "p"), ("Producer-Epoch", "0"), ("Producer-Seq", "0")], "p0"),
        ("POST", "/ds/_default/s", [("Content-Type", "text/plain"), ("Producer-Id", "p"), ("Producer-Epoch", "0"), ("Producer-Seq", "5")], "gap"),
        ("POST", "/ds/_default/j", [("Content-Type", "application/json")], "[1,2,{\"a\":3}]"),
        ("POST", "/ds/_default/j", [("Content-Type", "application/json")], "[1,"),
        ("POST", "/ds/_default/j", [("Content-Type", "application/json")], "[]"),
        ("POST", "/ds/_default/s", [("Content-Type", "application/json")], "1"),
        ("POST", "/ds/_default/s", [], "no type"),
        ("POST", "/ds/_default/s", [("Content-Type", "text/plain")], ""),
        ("POST", "/ds/_default/missing", [("Content-Type", "text/plain")], "x"),
        ("POST", "/ds/nobucket/s", [("Content-Type", "text/plain")], "x"),
        ("POST", "/ds/_default/s", [("Content-Type", "text/plain"), ("If-Match", "\"nope\"")], "x"),
        ("POST", "/ds/_default/s", [("Content-Type", "text/plain"), ("Stream-Seq", "b")], "s1"),
        ("POST", "/ds/_default/s", [("Content-Type", "text/plain"), ("Stream-Seq", "a")], "s0"),
        ("POST", "/ds/_default/s", [("Content-Type", "text/plain"), ("Producer-Epoch", "x")], "bad header"),
        ("POST", "/ds/_default/s", [("Content-Type", "text/plain"), ("Stream-Closed", "true")], "last"),
        ("POST", "/ds/_default/s", [("Content-Type", "text/plain")], "after close"),
        ("GET", "/ds/_default/s?offset=-1", [], ""),
    ]

    static func run(fast: Bool) async throws -> [String] {
        try await withNode(fast: fast) { _, client in
            var answers: [String] = []
            for c in cases {
                let r = try await client.request(c.method, c.path, headers: c.headers, body: Array(c.body.utf8))
                let headers = r.headers.filter { $0.0.lowercased() != "date" }.map { "\($0.0.lowercased()): \($0.1)" }.sorted()
                answers.append("\(c.method) \(c.path) \(c.body) → \(r.status) \(headers) \(r.text)")
            }
            return answers
        }
    }

    @Test func answersAreTheAsyncPathsAnswers() async throws {
        let slow = try await Self.run(fast: false)
        let fast = try await Self.run(fast: true)
        for (s, f) in zip(slow, fast) { #expect(s == f) }
        #expect(slow.count == fast.count)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderAcrossBothPaths() async throws {
        try await Self.withNode(fast: true) { node, client in
            let connection = try await RawConnection(port: node.port)
            // Appends (fast), a read and a HEAD (async), an append of a bad body (fast, refused),
            // an append with a malformed header (async), all in one write.
            func post(_ body: String, _ extra: String = "") -> String {
                "POST /ds/_default/s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\(extra)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            let requests = post("a") + "GET /ds/_default/s?offset=-1 HTTP/1.1\r\nHost: x\r\n\r\n" + post("b")
                + "HEAD /ds/_default/s HTTP/1.1\r\nHost: x\r\n\r\n" + post("c") + post("d", "Producer-Epoch: x\r\n")
                + post("e", "Connection: close\r\n")
            try await connection.send(requests)
            let (bytes, closed) = try await connection.readUntilClosed(timeout: .seconds(20))
            let text = String(decoding: bytes, as: UTF8.self)
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
            #expect(statuses == ["204", "200", "204", "200", "204", "400", "204"], "\(text)")
            #expect(closed, "Connection: close closes the connection after its answer")
            // The read in the middle saw exactly the first append.
            #expect(text.contains("\r\n\r\na"), "\(text)")
            let read = try await client.request("GET", "/ds/_default/s?offset=-1")
            #expect(read.text == "abce")
        }
    }

    @Test func aBodyOverTheLimitIs413AndClosesTheConnection() async throws {
        try await Self.withNode(fast: true, extra: ["--max-body-bytes", "1024"]) { node, client in
            let connection = try await RawConnection(port: node.port)
            // Chunked, so only the body's size tells.
            let chunk = String(repeating: "x", count: 800)
            try await connection.send("POST /ds/_default/s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "320\r\n\(chunk)\r\n320\r\n\(chunk)\r\n0\r\n\r\n")
            let (bytes, closed) = try await connection.readUntilClosed(timeout: .seconds(20))
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 413") && text.contains("body_too_large") && closed, "\(text)")
            #expect(try await client.request("GET", "/ds/_default/s?offset=-1").text == "")
        }
    }
}
