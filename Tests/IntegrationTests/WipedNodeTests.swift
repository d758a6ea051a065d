import Foundation
import RunnelTesting
import Testing

/// A node that lost its data directory (a pod whose volume was lost) and is restarted with
/// its original flags (docs/state-transfer.md §5): it must never vote, acknowledge or report
/// ready on an empty log; the leader replaces its old incarnation, it catches up, and the
/// cluster keeps every acknowledged append.
@Suite(.serialized) struct WipedNodeTests {
    @Test func aWipedFollowerRestartedWithItsFlagsComesBackWithEverythingAndLosesNothing() async throws {
        let cluster = try RunnelCluster(size: 3, name: "wiped")
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let victim = (leader + 1) % 3
        let setup = try await HTTPTestClient(port: cluster.nodes[leader].port)
        #expect(try await setup.request("PUT", "/v1/stream/w", headers: [("Content-Type", "text/plain")]).status == 201)
        await setup.close()

        let load = AppendLoad(cluster: cluster, path: "/v1/stream/w", clients: 8)
        let task = Task { await load.run() }
        try await Task.sleep(for: .milliseconds(500))
        cluster.nodes[victim].kill()
        let before = load.acknowledged
        try FileManager.default.removeItem(atPath: cluster.directories[victim])
        try await cluster.nodes[victim].start()

        // Not ready until it is a member again and caught up; then it holds every append
        // acknowledged before it lost its data.
        let client = try await HTTPTestClient(port: cluster.nodes[victim].port)
        let deadline = ContinuousClock.now + .seconds(60)
        var readyz = try await client.request("GET", "/readyz")
        var reasons: Set<String> = []
        while readyz.status != 200, ContinuousClock.now < deadline {
            reasons.insert(readyz.text)
            try await Task.sleep(for: .milliseconds(50))
            readyz = try await client.request("GET", "/readyz")
        }
        #expect(readyz.status == 200, "never ready again: \(reasons)")
        // It knew it had lost its data (a loaded machine can delay the first /readyz past its
        // re-admission, so the log, not a 503 seen in time, is the evidence).
        #expect(cluster.nodes[victim].log.contains("it lost its data"), "the wiped node did not notice it lost its data")
        let body = try await client.request("GET", "/v1/stream/w?offset=-1").text
        for ack in before { #expect(body.contains(ack), "the wiped node lacks \(ack) once ready") }
        let status = try await client.request("GET", "/admin/v1/cluster")
        #expect(status.text.contains("\"admission\":\"member\""), "\(status.text)")
        await client.close()

        try await Task.sleep(for: .milliseconds(500))
        load.stop()
        await task.value
        try await cluster.waitForConvergence(timeout: .seconds(60))
        try await ClusterTests().expectIdenticalStreams(cluster, "/v1/stream/w", acknowledged: load.acknowledged)
        #expect(load.acknowledged.count > 20, "too few appends acknowledged: \(load.acknowledged.count)")
    }
}
