import Foundation
import RunnelTesting
import Testing

/// Attacker-style inputs against a real process (issue 13): each gets a 4xx with a JSON
/// error body and a stable code, changes nothing, and never crashes or stalls the node.
@Suite(.serialized) struct HostileInputTests {
    /// A started node and a client, torn down by `stop`.
    struct Node {
        let process: RunnelProcess
        let dir: String
        let client: HTTPTestClient
        var port: Int { process.port }

        static func start(_ name: String, _ arguments: [String] = []) async throws -> Node {
            let dir = RunnelProcess.temporaryDirectory(name)
            let process = RunnelProcess(dataDirectory: dir, arguments: arguments)
            try await process.start()
            return Node(process: process, dir: dir, client: try await HTTPTestClient(port: process.port))
        }

        /// Stops the process synchronously (a `defer` cannot await), then removes its data.
        func stop() {
            process.terminate()
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// Sends raw request bytes on a new connection and returns the raw response, read until
        /// the server closes the connection (within `timeout`).
        func raw(_ bytes: [UInt8], timeout: Duration = .seconds(5)) async throws -> RawResponse {
            let connection = try await RawConnection(port: port)
            try await connection.send(bytes: bytes)
            let (received, closed) = try await connection.readUntilClosed(timeout: timeout)
            await connection.close()
            return RawResponse(text: String(decoding: received, as: UTF8.self), closed: closed)
        }

        func raw(_ text: String, timeout: Duration = .seconds(5)) async throws -> RawResponse {
            try await raw(Array(text.utf8), timeout: timeout)
        }
    }

    struct RawResponse {
        var text: String
        var closed: Bool
        var status: Int? { text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } }
        func hasErrorCode(_ code: String) -> Bool { text.contains(#"{"error":{"code":"\#(code)""#) }
    }

    static func jsonCode(_ response: HTTPTestClient.Response) -> String? {
        guard let range = response.text.range(of: #"{"error":{"code":""#) else { return nil }
        return String(response.text[range.upperBound...].prefix { $0 != "\"" })
    }

    // MARK: Finding 1: cursor overflow

    @Test func anAbsurdCursorDoesNotKillTheNode() async throws {
        let node = try await Node.start("cursor", ["--long-poll-timeout", "0.3"])
        defer { node.stop() }
        #expect(try await node.client.request("PUT", "/v1/stream/c", headers: [("Content-Type", "text/plain")]).status == 201)
        let poll = try await node.client.request("GET", "/v1/stream/c?offset=now&live=long-poll&cursor=9223372036854775807", timeout: .seconds(10))
        #expect(poll.status == 204)
        #expect(poll.header("Stream-Cursor").flatMap { Int64($0) } != nil)
        // An SSE stream never ends: read what arrives within a few seconds (slack for a loaded machine).
        let sse = try await node.raw("GET /v1/stream/c?offset=now&live=sse&cursor=9223372036854775807 HTTP/1.1\r\nHost: x\r\n\r\n", timeout: .seconds(5))
        #expect(sse.status == 200)
        #expect(sse.text.contains("streamCursor"))
        #expect(try await node.client.request("GET", "/healthz").status == 200)
        #expect(node.process.isRunning)
    }

    // MARK: Finding 4: malformed HTTP framing

    @Test(arguments: [
        "Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
        "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        "Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
    ])
    func malformedChunkedBodiesAre400WithJSON(tail: String) async throws {
        let node = try await Node.start("chunked")
        defer { node.stop() }
        #expect(try await node.client.request("PUT", "/v1/stream/m", headers: [("Content-Type", "text/plain")]).status == 201)
        let response = try await node.raw("POST /v1/stream/m HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n" + tail)
        #expect(response.status == 400, "\(response.text)")
        #expect(response.text.contains("application/json"))
        #expect(response.text.contains(#"{"error":{"code":""#), "\(response.text)")
        #expect(response.closed)
        let head = try await node.client.request("HEAD", "/v1/stream/m")
        #expect(head.header("Stream-Next-Offset") == "0000000000000000_0000000000000000")
    }

    /// RFC 9112 §6.1: an unknown transfer coding is a 501 (`xchunked` included).
    @Test(arguments: ["gzip, chunked", "xchunked"])
    func unsupportedTransferCodingIs501AndStoresNothing(coding: String) async throws {
        let node = try await Node.start("tecoding")
        defer { node.stop() }
        #expect(try await node.client.request("PUT", "/v1/stream/g", headers: [("Content-Type", "text/plain")]).status == 201)
        let response = try await node.raw(
            "POST /v1/stream/g HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: \(coding)\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        #expect(response.status == 501, "\(response.text)")
        #expect(response.hasErrorCode("unsupported_transfer_coding"))
        let head = try await node.client.request("HEAD", "/v1/stream/g")
        #expect(head.header("Stream-Next-Offset") == "0000000000000000_0000000000000000")
    }

    // MARK: Finding 5: bounded metrics, unknown methods

    @Test func unknownMethodsAre405AndDoNotGrowMetrics() async throws {
        let node = try await Node.start("methods")
        defer { node.stop() }
        #expect(try await node.client.request("PUT", "/v1/stream/u").status == 201)
        // NIO's HTTP/1.1 parser knows a fixed list of methods (others are 400 invalid_method);
        // these are on it but not ours. Over HTTP/2 any token arrives: the unit tests cover it.
        for method in ["PATCH", "PURGE", "PROPFIND", "MKCOL", "TRACE"] {
            let response = try await node.client.request(method, "/v1/stream/u")
            #expect(response.status == 405)
            #expect(Self.jsonCode(response) == "method_not_allowed")
            #expect(response.header("Allow")?.contains("GET") == true)
        }
        let metrics = try await node.client.request("GET", "/metrics").text
        #expect(!metrics.contains("PROPFIND"))
        #expect(!metrics.contains("MKCOL"))
        #expect(metrics.contains(#"method="other",status="405""#))
    }

    // MARK: Finding 9: admin routes

    @Test func adminRoutesAreRawPathOnlyAndNotCrossOrigin() async throws {
        let node = try await Node.start("admin")
        defer { node.stop() }
        let cluster = try await node.client.request("GET", "/admin/v1/cluster")
        #expect(cluster.status == 200)
        #expect(cluster.header("Access-Control-Allow-Origin") == nil)
        #expect(try await node.client.request("GET", "/admin%2fv1%2fcluster").status == 404)
        #expect(try await node.client.request("GET", "/admin%2Fv1%2Fcluster").status == 404)
        let preflight = try await node.client.request(
            "OPTIONS", "/admin/v1/cluster", headers: [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "GET")])
        #expect(preflight.status == 405)
        #expect(preflight.header("Allow") == "GET")
        #expect(preflight.header("Access-Control-Allow-Origin") == nil)
        #expect(preflight.header("Access-Control-Allow-Methods") == nil)
        let odd = try await node.client.request("PATCH", "/metrics")
        #expect(odd.status == 405)
        #expect(odd.header("Allow") == "GET, HEAD")
        #expect(try await node.client.request("POST", "/healthz").status == 405)
        // Stream routes keep the protocol's CORS headers.
        #expect(try await node.client.request("PUT", "/v1/stream/cors").header("Access-Control-Allow-Origin") == "*")
        #expect(try await node.client.request("OPTIONS", "/v1/stream/cors").header("Access-Control-Allow-Methods") != nil)
    }

    // MARK: Finding 10 and the HTTP edge of 2, 3

    @Test func refusedHeadersChangeNothing() async throws {
        let node = try await Node.start("refused")
        let c = node.client
        defer { node.stop() }
        #expect(try await c.request("PUT", "/v1/stream/r", headers: [("Content-Type", "text/plain")], body: Array("a".utf8)).status == 201)

        let expect = try await c.request("POST", "/v1/stream/r", headers: [("Content-Type", "text/plain"), ("Expect", "999-foo")], body: [0x62])
        #expect(expect.status == 417)
        #expect(Self.jsonCode(expect) == "unsupported_expectation")

        let closes = try await c.request("POST", "/v1/stream/r", headers: [("Stream-Closed", "false"), ("Stream-Closed", "true")])
        #expect(closes.status == 400)
        #expect(Self.jsonCode(closes) == "repeated_header")
        #expect(try await c.request("HEAD", "/v1/stream/r").header("Stream-Closed") == nil)

        let past = try await c.request("PUT", "/v1/stream/past", headers: [("Stream-Expires-At", "2001-01-01T00:00:00Z")])
        #expect(past.status == 400)
        #expect(Self.jsonCode(past) == "expires_at_in_past")
        #expect(try await c.request("HEAD", "/v1/stream/past").status == 404)

        let ttl = try await c.request("PUT", "/v1/stream/ttl", headers: [("Stream-TTL", "18446744073709551615")])
        #expect(ttl.status == 400)
        #expect(Self.jsonCode(ttl) == "invalid_ttl")

        let read = try await c.request("GET", "/v1/stream/r?offset=-1")
        let etag = try #require(read.header("ETag"))
        #expect(try await c.request("GET", "/v1/stream/r?offset=-1", headers: [("If-None-Match", "*")]).status == 304)
        #expect(try await c.request("GET", "/v1/stream/r?offset=-1", headers: [("If-None-Match", etag)]).status == 304)

        let longID = String(repeating: "p", count: 257)
        let producer = try await c.request("POST", "/v1/stream/r", headers: [
            ("Content-Type", "text/plain"), ("Producer-Id", longID), ("Producer-Epoch", "0"), ("Producer-Seq", "0"),
        ], body: [0x62])
        #expect(producer.status == 400)
        #expect(Self.jsonCode(producer) == "invalid_producer_id")
        #expect(try await c.request("HEAD", "/v1/stream/r").header("Stream-Next-Offset") == "0000000000000000_0000000000000001")
    }

    @Test func jsonOffsetsInsideAMessageAre400() async throws {
        let node = try await Node.start("jsonoffset")
        let c = node.client
        defer { node.stop() }
        #expect(try await c.request("PUT", "/v1/stream/j", headers: [("Content-Type", "application/json")], body: Array("[1,2,3]".utf8)).status == 201)
        // Each message is stored behind a 4-byte length: boundaries are 0, 5, 10, 15.
        #expect(try await c.request("GET", "/v1/stream/j?offset=0000000000000000_0000000000000005").text == "[2,3]")
        let inside = try await c.request("GET", "/v1/stream/j?offset=0000000000000000_0000000000000001")
        #expect(inside.status == 400)
        #expect(Self.jsonCode(inside) == "offset_not_message_boundary")
        let poll = try await c.request("GET", "/v1/stream/j?offset=0000000000000000_0000000000000006&live=long-poll")
        #expect(poll.status == 400)
        let sse = try await c.request("GET", "/v1/stream/j?offset=0000000000000000_0000000000000006&live=sse")
        #expect(sse.status == 400)
        let fork = try await c.request("PUT", "/v1/stream/jf", headers: [
            ("Stream-Forked-From", "/v1/stream/j"), ("Stream-Fork-Offset", "0000000000000000_0000000000000003"),
        ])
        #expect(fork.status == 400)
        #expect(Self.jsonCode(fork) == "fork_offset_not_message_boundary")
        #expect(try await c.request("HEAD", "/v1/stream/jf").status == 404)
        let goodFork = try await c.request("PUT", "/v1/stream/jg", headers: [
            ("Stream-Forked-From", "/v1/stream/j"), ("Stream-Fork-Offset", "0000000000000000_0000000000000005"),
        ])
        #expect(goodFork.status == 201)
    }

    @Test func invalidBytesOnTheWireAre400() async throws {
        let node = try await Node.start("bytes")
        defer { node.stop() }
        #expect(try await node.client.request("PUT", "/v1/stream/b", headers: [("Content-Type", "text/plain")]).status == 201)
        func request(_ head: String, _ bad: [UInt8], _ rest: String) -> [UInt8] { Array(head.utf8) + bad + Array(rest.utf8) }

        let path = try await node.raw(request("GET /v1/stream/", [0xFF], " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        #expect(path.status == 400, "\(path.text)")
        #expect(path.hasErrorCode("invalid_path"))
        let encoded = try await node.raw("GET /ds/_default/%FF HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(encoded.hasErrorCode("invalid_path"))

        let producer = try await node.raw(request(
            "POST /v1/stream/b HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nProducer-Id: p", [0xFF],
            "\r\nProducer-Epoch: 0\r\nProducer-Seq: 0\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"))
        #expect(producer.status == 400, "\(producer.text)")
        #expect(producer.hasErrorCode("invalid_producer_id"))

        let contentType = try await node.raw(request(
            "PUT /v1/stream/ct HTTP/1.1\r\nHost: x\r\nContent-Type: text/", [0xFE, 0xFF],
            "\r\nConnection: close\r\n\r\n"))
        #expect(contentType.status == 400, "\(contentType.text)")
        #expect(contentType.hasErrorCode("invalid_content_type"))

        let noHost = try await node.raw("GET /v1/stream/b HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(noHost.status == 400)
        #expect(noHost.hasErrorCode("missing_host"))
        let twoHosts = try await node.raw("GET /v1/stream/b HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n")
        #expect(twoHosts.status == 400)
        #expect(twoHosts.hasErrorCode("repeated_header"))
        #expect(try await node.client.request("HEAD", "/v1/stream/b").header("Stream-Next-Offset") == "0000000000000000_0000000000000000")
        #expect(try await node.client.request("HEAD", "/v1/stream/ct").status == 404)
    }

    // MARK: Finding 8: connection timeouts

    @Test func idleAndSlowConnectionsAreClosed() async throws {
        let node = try await Node.start("timeouts", ["--idle-timeout", "1", "--header-read-timeout", "1", "--long-poll-timeout", "3"])
        defer { node.stop() }
        let slack: Duration = .seconds(3)

        // An idle connection that never sends a byte.
        let started = ContinuousClock.now  // before connecting, as above
        let idle = try await RawConnection(port: node.port)
        let idleResult = try await idle.readUntilClosed(timeout: .seconds(1) + slack)
        #expect(idleResult.closed, "an idle connection stays open")
        #expect(ContinuousClock.now - started >= .milliseconds(900))

        // A slowloris: one header byte every 500 ms, never finishing the head.
        let slow = try await RawConnection(port: node.port)
        let slowStarted = ContinuousClock.now
        let request = Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8)
        var closedEarly = false
        for byte in request {
            do { try await slow.send(bytes: [byte]) } catch { closedEarly = true; break }
            if ContinuousClock.now - slowStarted > .seconds(1) + slack { break }
            try await Task.sleep(for: .milliseconds(500))  // the attacker's pace, not a wait for a condition
        }
        let slowClosed = closedEarly ? true : try await slow.readUntilClosed(timeout: .seconds(2)).closed
        #expect(slowClosed, "a slowloris stays open")
        #expect(ContinuousClock.now - slowStarted < .seconds(1) + slack + .seconds(1))

        // node.client's connection sat idle past the idle timeout, so it is closed too; a
        // waiting long-poll is not idle: it outlives the idle timeout and answers 204.
        #expect(try await Self.onFreshConnection(node.port) { try await $0.request("PUT", "/v1/stream/lp") }.status == 201)
        let pollStarted = ContinuousClock.now
        let poll = try await Self.onFreshConnection(node.port) {
            try await $0.request("GET", "/v1/stream/lp?offset=now&live=long-poll", timeout: .seconds(10))
        }
        #expect(poll.status == 204)
        #expect(ContinuousClock.now - pollStarted >= .seconds(2), "the long-poll was cut off before its own timeout")
    }

    /// Runs `request` on a new connection. With a 1 s idle timeout, a loaded machine can leave
    /// a new connection unused long enough for the server to close it before the request is
    /// written; such a failure comes at once (well before any timeout under test), so it is
    /// retried on another connection. A failure after the request has waited is not retried.
    private static func onFreshConnection(
        _ port: Int, _ request: (HTTPTestClient) async throws -> HTTPTestClient.Response
    ) async throws -> HTTPTestClient.Response {
        for attempt in 1...5 {
            let client = try await HTTPTestClient(port: port)
            let started = ContinuousClock.now
            do {
                let response = try await request(client)
                await client.close()
                return response
            } catch where attempt < 5 && ContinuousClock.now - started < .milliseconds(500) {
                await client.close()
            }
        }
        preconditionFailure("unreachable: the last attempt returns or throws")
    }

    @Test func aTLSConnectionWithoutClientHelloIsClosed() async throws {
        let dir = RunnelProcess.temporaryDirectory("tlstimeout")
        let (cert, key) = try TestCertificate.selfSigned(in: dir + "-certs")
        defer { try? FileManager.default.removeItem(atPath: dir + "-certs") }
        let node = try await Node.startTLS(dir: dir, ["--tls-cert", cert, "--tls-key", key, "--tls-handshake-timeout", "1", "--idle-timeout", "30"])
        defer { node.terminate(); try? FileManager.default.removeItem(atPath: dir) }
        // The clock starts before the connection: the server's starts when it accepts it, so
        // a loaded machine that resumes this task late cannot make the close look early.
        let started = ContinuousClock.now
        let silent = try await RawConnection(port: node.port)
        let result = try await silent.readUntilClosed(timeout: .seconds(4))
        #expect(result.closed, "a TLS connection without a ClientHello stays open")
        #expect(ContinuousClock.now - started >= .milliseconds(900))
    }

    @Test func connectionsBeyondTheLimitAreClosed() async throws {
        let node = try await Node.start("maxconn", ["--max-connections", "2"])
        defer { node.stop() }
        // node.client holds one; a second fits; a third is closed at once.
        let second = try await RawConnection(port: node.port)
        let third = try await RawConnection(port: node.port)
        let result = try await third.readUntilClosed(timeout: .seconds(3))
        #expect(result.closed)
        #expect(try await node.client.request("GET", "/healthz").status == 200)
        await second.close()
    }
}

extension HostileInputTests.Node {
    static func startTLS(dir: String, _ arguments: [String]) async throws -> RunnelProcess {
        let process = RunnelProcess(dataDirectory: dir, arguments: arguments)
        try await process.start()
        return process
    }
}
