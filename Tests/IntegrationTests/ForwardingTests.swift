import Foundation
import RunnelTesting
import Testing

/// Forwarded writes across a leader change with real processes (issue 15; docs/cluster.md
/// "Forwarded writes across a leader change"): a follower forwards a write to a leader that is
/// SIGSTOPped before it can replicate it; once a new leader is elected, the follower re-sends
/// the write, its client is answered, and the write is applied exactly once.
@Suite(.serialized) struct ForwardingTests {
    @Test func aWriteForwardedToAStoppedLeaderIsAnsweredOnceTheNewLeaderCommitsIt() async throws {
        let cluster = try RunnelCluster(size: 3, name: "forward")
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let follower = (leader + 1) % 3
        let client = try await HTTPTestClient(port: cluster.nodes[follower].port)
        #expect(try await client.request("PUT", "/v1/stream/f", headers: [("Content-Type", "text/plain")]).status == 201)
        try await cluster.waitForConvergence()

        cluster.nodes[leader].signal(SIGSTOP)
        let started = ContinuousClock.now
        // The follower still knows the stopped node as leader: the write is forwarded there.
        let response = try await client.request("POST", "/v1/stream/f", headers: [("Content-Type", "text/plain")],
                                                body: Array("once;".utf8), timeout: .seconds(15))
        let answeredAfter = ContinuousClock.now - started
        #expect(response.status == 204, "\(response.status) \(response.text)")
        #expect(answeredAfter < .seconds(8), "answered after \(answeredAfter): re-sent only by its own timeout?")
        cluster.nodes[leader].signal(SIGCONT)
        try await cluster.waitForConvergence(timeout: .seconds(30))
        for node in cluster.nodes {
            let c = try await HTTPTestClient(port: node.port)
            #expect(try await c.request("GET", "/v1/stream/f?offset=-1&consistency=local").text == "once;")
            await c.close()
        }
        await client.close()
        print("forwarding: a write forwarded to a stopped leader was answered after \(answeredAfter)")
    }
}
