import Foundation
import RunnelTesting
import Testing

/// A node that lost its data directory (a pod whose volume was lost) and is restarted with
/// its original flags (docs/state-transfer.md §5): it must never vote, acknowledge or report
/// ready on an empty log, and the cluster keeps every acknowledged append.
@Suite(.serialized) struct WipedNodeTests {
    @Test func aWipedFollowerRestartedWithItsFlagsStaysOutAndLosesNothing() async throws {
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
        try FileManager.default.removeItem(atPath: cluster.directories[victim])
        try await cluster.nodes[victim].start()

        // It says why it is not ready, and keeps saying it while the others serve.
        let client = try await HTTPTestClient(port: cluster.nodes[victim].port)
        let deadline = ContinuousClock.now + .seconds(10)
        var readyz = try await client.request("GET", "/readyz")
        while !readyz.text.contains("replaced"), ContinuousClock.now < deadline {
            #expect(readyz.status == 503, "a wiped node reported ready: \(readyz.text)")
            try await Task.sleep(for: .milliseconds(50))
            readyz = try await client.request("GET", "/readyz")
        }
        #expect(readyz.status == 503 && readyz.text.contains("replaced"), "\(readyz.status) \(readyz.text)")
        let acksBefore = load.acknowledged.count
        try await Task.sleep(for: .milliseconds(1000))
        #expect(load.acknowledged.count > acksBefore, "the other two stopped committing")
        #expect(try await client.request("GET", "/readyz").status == 503)
        // It holds no data and serves no linearizable read.
        #expect(try await client.request("GET", "/v1/stream/w?offset=-1").status == 503)
        load.stop()
        await task.value
        await client.close()

        // Nothing acknowledged was lost on the two members.
        for i in cluster.nodes.indices where i != victim {
            let c = try await HTTPTestClient(port: cluster.nodes[i].port)
            let body = try await c.request("GET", "/v1/stream/w?offset=-1").text
            for ack in load.acknowledged { #expect(body.contains(ack), "node \(i + 1) lost \(ack)") }
            await c.close()
        }
        #expect(load.acknowledged.count > 50, "too few appends acknowledged: \(load.acknowledged.count)")
    }
}
