import Foundation
import RunnelTesting
import Testing

/// `/healthz`, `/readyz` and `/metrics` (api.md §3) on a real process.
@Suite(.serialized) struct OperationsTests {
    @Test func healthReadinessAndMetrics() async throws {
        let dir = RunnelProcess.temporaryDirectory("ops")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir)
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        #expect(try await client.request("GET", "/healthz").status == 200)
        // Ready once the one-voter group has elected itself, which may follow "listening".
        var readyz = try await client.request("GET", "/readyz")
        let deadline = ContinuousClock.now + .seconds(10)
        while readyz.status != 200, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            readyz = try await client.request("GET", "/readyz")
        }
        #expect(readyz.status == 200, "\(readyz.status) \(readyz.text)")
        #expect(try await client.request("PUT", "/v1/stream/ops").status == 201)
        let appended = try await client.request(
            "POST", "/v1/stream/ops", headers: [("Content-Type", "application/octet-stream")], body: [1, 2, 3])
        #expect(appended.status == 204)
        let metrics = try await client.request("GET", "/metrics")
        #expect(metrics.status == 200)
        let text = metrics.text
        #expect(text.contains(#"runnel_http_requests_total{route="v1_stream",method="POST",status="204"} 1"#))
        #expect(text.contains("runnel_log_fsync_seconds_count"))
        #expect(text.contains("runnel_entries_per_sync_sum"))
        // 1: the leader's no-op, 2: create, 3: append.
        #expect(text.contains("runnel_raft_applied_index 3"))
        #expect(text.contains("runnel_raft_is_leader 1"))
        #expect(text.contains("runnel_raft_term 1"))
        // Create and append, each proposed by this leader; with the no-op, 3 entries synced.
        #expect(text.contains("runnel_proposed_commands_total 2"))
        #expect(text.contains("runnel_entries_per_sync_sum 3"))
        await client.close()
    }

    @Test func sigtermStopsCleanlyAndRestartResumes() async throws {
        let dir = RunnelProcess.temporaryDirectory("term")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir)
        try await node.start()
        let client = try await HTTPTestClient(port: node.port)
        #expect(try await client.request("PUT", "/streams/t", headers: [("Content-Type", "text/plain")], body: Array("x".utf8)).status == 201)
        await client.close()
        node.terminate()
        #expect(!node.isRunning)
        let again = RunnelProcess(dataDirectory: dir)
        try await again.start()
        defer { again.terminate() }
        let reader = try await HTTPTestClient(port: again.port)
        #expect(try await reader.request("GET", "/streams/t").text == "x")
        await reader.close()
    }

    /// A SIGTERM ends live reads at once (a long-poll answers 204, an SSE stream ends) and the
    /// node exits in moments. It used to wait out the longest live read: 59 s with one SSE
    /// reader, past Kubernetes' default grace of 30 s.
    @Test(.timeLimit(.minutes(1)))
    func sigtermEndsLiveReadsAndExitsPromptly() async throws {
        let dir = RunnelProcess.temporaryDirectory("term-live")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir, arguments: ["--long-poll-timeout", "600"])
        try await node.start()
        defer { node.kill() }
        let client = try await HTTPTestClient(port: node.port)
        let created = try await client.request("PUT", "/v1/stream/live", headers: [("Content-Type", "text/plain")])
        let tail = try #require(created.header("Stream-Next-Offset"))
        let port = node.port
        let longPoll = Task {
            let reader = try await HTTPTestClient(port: port)
            defer { Task { await reader.close() } }
            return try await reader.request("GET", "/v1/stream/live?offset=\(tail)&live=long-poll", timeout: .seconds(30)).status
        }
        let sse = Task {
            let reader = try await HTTPTestClient(port: port)
            defer { Task { await reader.close() } }
            return try await reader.stream("/v1/stream/live?offset=\(tail)&live=sse", timeout: .seconds(30)) { _ in true }
        }
        try await waitUntil("both readers wait", timeout: .seconds(10)) { try await metric("runnel_live_readers", client) == 2 }
        await client.close()

        let signalled = ContinuousClock.now
        node.signal(SIGTERM)
        #expect(try await longPoll.value == 204)
        let streamed = try await sse.value
        #expect(streamed.status == 200 && streamed.ended, "\(streamed)")
        #expect(ContinuousClock.now - signalled < .seconds(5), "live reads ended \(ContinuousClock.now - signalled) after SIGTERM")
        let exited = await onOwnThread { () -> Duration in
            node.terminate()
            return ContinuousClock.now - signalled
        }
        #expect(!node.isRunning)
        #expect(exited < .seconds(10), "exited \(exited) after SIGTERM")
    }
}
