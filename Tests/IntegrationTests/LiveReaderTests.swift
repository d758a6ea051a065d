import Foundation
import NIOCore
import RunnelTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Live readers at scale and misbehaving ones (issue 3, protocol §8.3–8.4): many SSE readers
/// on one stream, a reader that never reads its socket, and readers that disconnect while
/// they wait.
@Suite(.serialized) struct LiveReaderTests {
    static let readers = 1000

    @Test(.timeLimit(.minutes(2)))
    func aThousandSSEReadersAllReceiveOneAppend() async throws {
        // One socket per reader here, and one per reader in the server (which raises its own
        // soft limit at startup).
        raiseOpenFileLimit(to: Self.readers * 2 + 256)
        let dir = RunnelProcess.temporaryDirectory("fanout")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir)
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        let created = try await client.request("PUT", "/v1/stream/fanout", headers: [("Content-Type", "text/plain")])
        #expect(created.status == 201)
        let tail = try #require(created.header("Stream-Next-Offset"))

        let started = ContinuousClock.now
        let caughtUp = Locked(0)
        // A reader that fails (its connection refused or reset) is reported at once, not as a
        // wait that times out after a minute (a `make test` run failed so, saying nothing more).
        let failure = Locked<String?>(nil)
        let received = try await withThrowingTaskGroup(of: Bool.self) { group in
            @Sendable func readOneEvent() async throws -> Bool {
                let reader = try await HTTPTestClient(port: node.port)
                var sse = SSEEventReader()
                var first = true
                var payload: String?
                let (status, _) = try await reader.stream("/v1/stream/fanout?offset=\(tail)&live=sse", timeout: .seconds(90)) { buffer in
                    for event in sse.feed(buffer) {
                        if event.type == "control", first {
                            first = false
                            caughtUp.withLock { $0 += 1 }
                        }
                        if event.type == "data" {
                            payload = event.text
                            return false
                        }
                    }
                    return true
                }
                await reader.close()
                return status == 200 && payload == "one append for everyone"
            }
            for _ in 0..<Self.readers {
                group.addTask {
                    do {
                        return try await readOneEvent()
                    } catch {
                        failure.withLock { $0 = $0 ?? "\(error)" }
                        throw error
                    }
                }
            }
            // Every reader has its initial control event and waits in the server.
            do {
                try await waitUntil("all readers wait", timeout: .seconds(60)) {
                    if let failed = failure.withLock({ $0 }) { throw ReaderFailed(description: "a reader failed: \(failed)") }
                    guard caughtUp.withLock({ $0 }) == Self.readers else { return false }
                    return try await metric("runnel_live_readers", client) == Double(Self.readers)
                }
            } catch {
                let waiting = try? await metric("runnel_live_readers", client)
                Issue.record("\(caughtUp.withLock { $0 }) of \(Self.readers) readers had their first event; the server counts \(waiting.map { "\($0)" } ?? "?") waiting")
                throw error
            }
            let connected = ContinuousClock.now
            let appended = try await client.request(
                "POST", "/v1/stream/fanout", headers: [("Content-Type", "text/plain")], body: Array("one append for everyone".utf8))
            #expect(appended.status == 204)
            var count = 0
            for try await ok in group where ok { count += 1 }
            print("LiveReaderTests: \(Self.readers) SSE readers connected in \(connected - started), all received one append \(ContinuousClock.now - connected) after it")
            return count
        }
        #expect(received == Self.readers)
        await client.close()
    }

    /// What one reader that never reads may cost the server, in resident memory.
    static let stalledReaderBound = 48 << 20

    @Test(.timeLimit(.minutes(3)))
    func aReaderThatNeverReadsIsDisconnectedAndDoesNotGrowServerMemory() async throws {
        let appendBytes = 4 << 20
        let appends = 16
        let total = appendBytes * appends
        let dir = RunnelProcess.temporaryDirectory("stalled")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir, arguments: ["--sse-write-timeout", "1"])
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: appendBytes)
        /// Appends `total` bytes to `stream` and returns how much the server's RSS grew.
        func append(to stream: String) async throws -> Int {
            let before = try #require(node.residentBytes)
            var peak = before
            for _ in 0..<appends {
                let r = try await client.request("POST", "/v1/stream/\(stream)", headers: [("Content-Type", "text/plain")], body: body)
                #expect(r.status == 204)
                peak = max(peak, node.residentBytes ?? 0)
            }
            return peak - before
        }
        for stream in ["warmup", "control", "stalled"] {
            #expect(try await client.request("PUT", "/v1/stream/\(stream)", headers: [("Content-Type", "text/plain")]).status == 201)
        }
        // Storage keeps recent log entries and memtables in memory, so appends grow the RSS
        // by themselves: the same volume to a stream without readers is the yardstick, after a
        // warm-up that lets storage buffers and allocator pools reach their working size.
        _ = try await append(to: "warmup")
        let withoutReader = try await append(to: "control")

        // Live: a reader that never reads follows the stream while it grows.
        let stalled = try StalledReader(port: node.port, path: "/v1/stream/stalled?offset=-1&live=sse")
        try await waitUntil("the stalled reader waits", timeout: .seconds(10)) {
            try await metric("runnel_live_readers", client) == 1
        }
        let withStalledReader = try await append(to: "stalled")
        let tail = try #require(try await client.request("HEAD", "/v1/stream/stalled").header("Stream-Next-Offset"))
        // The server gives up on the reader after its write timeout and closes the connection.
        try await waitUntil("the server closes the stalled reader", timeout: .seconds(20)) {
            try await metric("runnel_sse_write_timeouts_total", client) == 1
        }
        let drained = try await stalled.drainUntilClosed(timeout: .seconds(10))
        #expect(drained < total, "the stalled reader cannot have been sent everything")
        // Storage makes this comparison noisy (tens of MiB either way), so it only shows that
        // the server did not keep what it could not send; the catch-up case below, free of
        // storage growth, holds the reader to `stalledReaderBound`.
        #expect(withStalledReader - withoutReader < total,
                "RSS grew \(withStalledReader >> 20) MiB with a stalled reader, \(withoutReader >> 20) MiB without")

        // Catch-up: a reader that never reads starts at the beginning of the stored 64 MiB.
        let baseline = try #require(node.residentBytes)
        var peak = baseline
        let catchUp = try StalledReader(port: node.port, path: "/v1/stream/stalled?offset=-1&live=sse")
        try await waitUntil("the server closes the catch-up reader", timeout: .seconds(20)) {
            peak = max(peak, node.residentBytes ?? 0)
            return try await metric("runnel_sse_write_timeouts_total", client) == 2
        }
        peak = max(peak, node.residentBytes ?? 0)
        _ = try await catchUp.drainUntilClosed(timeout: .seconds(10))
        #expect(peak - baseline < Self.stalledReaderBound, "RSS grew \((peak - baseline) >> 20) MiB for a stalled catch-up reader")
        print("""
            LiveReaderTests: appending \(total >> 20) MiB grew the server's RSS by \(withoutReader >> 20) MiB without a reader, \
            \(withStalledReader >> 20) MiB with a reader that never read (closed after it took \(drained >> 10) KiB); \
            a stalled catch-up reader over the stored \(total >> 20) MiB grew it by \((peak - baseline) >> 20) MiB
            """)

        // A reader that reads gets everything, up to the tail.
        let reader = try await HTTPTestClient(port: node.port)
        var sse = SSEEventReader()
        var dataBytes = 0
        var lastControl: [String: Any]?
        let (status, _) = try await reader.stream("/v1/stream/stalled?offset=-1&live=sse", timeout: .seconds(60)) { buffer in
            for event in sse.feed(buffer) {
                if event.type == "data" { dataBytes += event.dataBytes }
                if event.type == "control" {
                    lastControl = event.control
                    if lastControl?["streamNextOffset"] as? String == tail { return false }
                }
            }
            return true
        }
        await reader.close()
        #expect(status == 200)
        #expect(dataBytes == total)
        #expect(lastControl?["upToDate"] as? Bool == true)
        await client.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func liveReadersThatDisconnectStopWaiting() async throws {
        let dir = RunnelProcess.temporaryDirectory("gone")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Long waits, so only the disconnect can end them within the test.
        let node = RunnelProcess(dataDirectory: dir, arguments: ["--long-poll-timeout", "600"])
        try await node.start()
        // SIGKILL: a graceful stop would wait for readers this test may have failed to end.
        defer { node.kill() }
        let client = try await HTTPTestClient(port: node.port)
        let created = try await client.request("PUT", "/v1/stream/gone", headers: [("Content-Type", "text/plain")])
        let tail = try #require(created.header("Stream-Next-Offset"))

        let sse = try StalledReader(port: node.port, path: "/v1/stream/gone?offset=\(tail)&live=sse")
        let longPoll = try StalledReader(port: node.port, path: "/v1/stream/gone?offset=\(tail)&live=long-poll")
        try await waitUntil("both readers wait", timeout: .seconds(10)) {
            try await metric("runnel_live_readers", client) == 2
        }
        sse.close()
        longPoll.close()
        try await waitUntil("no reader waits", timeout: .seconds(10)) {
            try await metric("runnel_live_readers", client) == 0
        }
        // The node still serves live reads.
        let poll = try await HTTPTestClient(port: node.port)
        let answer = Task { try await poll.request("GET", "/v1/stream/gone?offset=\(tail)&live=long-poll", timeout: .seconds(20)) }
        try await waitUntil("a new long-poll waits", timeout: .seconds(10)) {
            try await metric("runnel_live_readers", client) == 1
        }
        #expect(try await client.request("POST", "/v1/stream/gone", headers: [("Content-Type", "text/plain")], body: Array("hi".utf8)).status == 204)
        #expect(try await answer.value.text == "hi")
        // A long-poll that waited leaves its keep-alive connection usable.
        #expect(try await poll.request("GET", "/v1/stream/gone?offset=-1", timeout: .seconds(10)).text == "hi")
        await poll.close()
        await client.close()
    }
}

/// Polls `condition` until it holds, failing after `timeout`.
func waitUntil(_ what: String, timeout: Duration, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw HTTPTestClient.ClientError(description: "timed out after \(timeout) waiting until \(what)")
}

/// The value of an unlabelled metric in the node's `/metrics` text.
func metric(_ name: String, _ client: HTTPTestClient) async throws -> Double? {
    let text = try await client.request("GET", "/metrics").text
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }) else { return nil }
    return Double(line.split(separator: " ").last ?? "")
}

/// Raises this process's soft limit on open files to at least `wanted` (up to the hard limit).
func raiseOpenFileLimit(to wanted: Int) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
    limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// An HTTP/1.1 GET over a blocking socket with a small receive buffer that nobody reads until
/// `drainUntilClosed`, so the server's writes to it back up.
final class StalledReader: @unchecked Sendable {
    private var fd: Int32

    init(port: Int, path: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPTestClient.ClientError(description: "socket() failed") }
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HTTPTestClient.ClientError(description: "connect() failed") }
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n"
        let sent = request.utf8CString.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count - 1, 0) }
        guard sent == request.utf8.count else { throw HTTPTestClient.ClientError(description: "send() failed") }
    }

    /// Reads everything the server sent until it closes the connection; throws if it is still
    /// open after `timeout`. Returns the number of bytes read.
    func drainUntilClosed(timeout: Duration) async throws -> Int {
        let fd = self.fd
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    var tv = timeval(tv_sec: 1, tv_usec: 0)
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                    let deadline = ContinuousClock.now + timeout
                    var total = 0
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    while ContinuousClock.now < deadline {
                        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                        if n > 0 { total += n; continue }
                        if n == 0 { return total }
                        if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                        return total  // reset by the server: closed as well
                    }
                    throw HTTPTestClient.ClientError(description: "the server kept the connection open for \(timeout)")
                })
            }.start()
        }
    }

    /// Closes the socket (the client goes away).
    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    deinit { close() }
}

struct ReaderFailed: Error, CustomStringConvertible {
    var description: String
}
