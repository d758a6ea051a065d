import Foundation
import RunnelTesting
import Testing

/// Membership changes with real processes (issue 15; docs/cluster.md "Membership changes"):
/// `runnel serve --join`, removing the leader under load, and `runnel cluster`.
@Suite(.serialized) struct MembershipTests {
    @Test func aFourthNodeJoinsBecomesAVoterAndServesEveryStream() async throws {
        let cluster = try RunnelCluster(size: 3, name: "join")
        let directory = RunnelProcess.temporaryDirectory("join-n4")
        defer {
            cluster.kill()
            cluster.removeData()
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: directory + ".log")
        }
        try await cluster.start()
        let clients = try await cluster.nodes.asyncMap { try await HTTPTestClient(port: $0.port) }
        let streams = ["/v1/stream/j0", "/v1/stream/j1", "/ds/_default/j2"]
        for (i, path) in streams.enumerated() {
            #expect(try await clients[i].request("PUT", path, headers: [("Content-Type", "application/octet-stream")]).status == 201)
            for n in 0..<20 {
                let body = (0..<(100 + n * 37)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n &+ i) }
                #expect(try await clients[(i + n) % 3].request(
                    "POST", path, headers: [("Content-Type", "application/octet-stream")], body: body).status == 204)
            }
        }
        for c in clients { await c.close() }

        let peerPort = try RunnelCluster.freePorts(1)[0]
        let arguments = ["--node-id", "4", "--join", "http://127.0.0.1:\(cluster.nodes[1].port)",
                         "--advertise", "127.0.0.1:\(peerPort)"]
        let joiner = RunnelProcess(dataDirectory: directory, arguments: arguments)
        defer { joiner.kill() }
        let started = ContinuousClock.now
        try await joiner.start(timeout: .seconds(60))
        try await waitForMembers(cluster, voters: [1, 2, 3, 4], within: .seconds(60))
        let joinedAfter = ContinuousClock.now - started

        // Every stream read through the new node (linearizable) equals the leader's bytes.
        let leader = try await cluster.waitForLeader()
        let leaderClient = try await HTTPTestClient(port: cluster.nodes[leader].port)
        let newClient = try await HTTPTestClient(port: joiner.port)
        for path in streams {
            let expected = try await leaderClient.request("GET", "\(path)?offset=-1")
            let got = try await newClient.request("GET", "\(path)?offset=-1")
            #expect(expected.status == 200 && got.status == 200)
            #expect(got.body == expected.body, "\(path) differs through node 4 (\(got.body.count) vs \(expected.body.count) bytes)")
        }
        let status = try await newClient.request("GET", "/admin/v1/cluster")
        #expect(status.text.contains("\"node_id\":4") && status.text.contains("\"role\":\"follower\""), "\(status.text)")
        // A write through the new voter.
        #expect(try await newClient.request("POST", streams[0], headers: [("Content-Type", "application/octet-stream")],
                                            body: [1, 2, 3]).status == 204)
        await newClient.close()
        await leaderClient.close()

        // Restarted with the same flags, it resumes from its data dir (--join is ignored).
        joiner.terminate()
        try await joiner.start(timeout: .seconds(60))
        #expect(joiner.log.contains("--join ignored"))
        let again = try await HTTPTestClient(port: joiner.port)
        #expect(try await again.request("GET", "\(streams[2])?offset=-1").status == 200)
        await again.close()
        try await waitForMembers(cluster, voters: [1, 2, 3, 4], within: .seconds(30))
        print("join: node 4 was a voter \(joinedAfter) after its process started")
    }

    @Test func removingTheLeaderUnderLoadLosesNoAcknowledgedAppend() async throws {
        let cluster = try RunnelCluster(size: 3, name: "rmleader")
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let follower = (leader + 1) % 3
        let setup = try await HTTPTestClient(port: cluster.nodes[follower].port)
        #expect(try await setup.request("PUT", "/v1/stream/rm", headers: [("Content-Type", "text/plain")]).status == 201)

        let load = AppendLoad(cluster: cluster, path: "/v1/stream/rm", clients: 4)
        let task = Task { await load.run() }
        try await waitUntil("appends acknowledged before the removal", within: .seconds(20)) { load.acknowledged.count >= 50 }
        let response = try await setup.request("DELETE", "/admin/v1/cluster/members/\(leader + 1)")
        #expect(response.status == 202, "\(response.status) \(response.text)")
        await setup.close()
        let newLeader = try await cluster.waitForLeader(excluding: [leader], timeout: .seconds(15))
        #expect(newLeader != leader)
        let before = load.acknowledged.count
        try await waitUntil("appends acknowledged after the removal", within: .seconds(30)) { load.acknowledged.count >= before + 50 }
        load.stop()
        await task.value
        // The removed node is stopped, as an operator would; the other two hold everything.
        cluster.nodes[leader].kill()
        try await waitForMembers(cluster, voters: Set([1, 2, 3]).subtracting([UInt64(leader + 1)]), within: .seconds(15))
        try await cluster.waitForConvergence()
        try await ClusterTests().expectIdenticalStreams(cluster, "/v1/stream/rm", acknowledged: load.acknowledged)
    }

    @Test func theClusterCommandShowsAndChangesMembership() async throws {
        let cluster = try RunnelCluster(size: 3, name: "cli")
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let url = "http://127.0.0.1:\(cluster.nodes[(leader + 1) % 3].port)"

        let status = try await runnel(["cluster", "status", "--url", url])
        #expect(status.code == 0)
        #expect(status.out.contains("ID") && status.out.contains("ADDRESS") && status.out.contains("leader"), "\(status.out)")
        #expect(status.out.split(separator: "\n").count == 5, "\(status.out)")

        // Node 9 never starts: it stays a learner, so a second change is refused.
        let add = try await runnel(["cluster", "add", "9", "127.0.0.1:9", "--url", url])
        #expect(add.code == 0 && add.out.contains("learner"), "\(add.out) \(add.err)")
        let second = try await runnel(["cluster", "add", "8", "127.0.0.1:8", "--url", url])
        #expect(second.code != 0 && second.err.contains("membership_change_in_progress"), "\(second.err)")
        let shown = try await runnel(["cluster", "status", "--url", url])
        #expect(shown.out.contains("learner") && shown.out.contains("127.0.0.1:9"), "\(shown.out)")
        let remove = try await runnel(["cluster", "remove", "9", "--url", url])
        #expect(remove.code == 0, "\(remove.err)")
        let missing = try await runnel(["cluster", "remove", "7", "--url", url])
        #expect(missing.code != 0 && missing.err.contains("member_not_found"), "\(missing.err)")
        let unreachable = try await runnel(["cluster", "status", "--url", "http://127.0.0.1:1"])
        #expect(unreachable.code != 0 && unreachable.err.contains("cannot reach"))

        let leaderURL = "http://127.0.0.1:\(cluster.nodes[leader].port)"
        let transfer = try await runnel(["cluster", "transfer-leader", "--url", leaderURL])
        #expect(transfer.code == 0, "\(transfer.err)")
        _ = try await cluster.waitForLeader(excluding: [leader], timeout: .seconds(10))
    }

    /// Runs `runnel ARGS` and returns its exit status and output.
    private func runnel(_ arguments: [String]) async throws -> (code: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RunnelProcess.binaryPath)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return (process.terminationStatus,
                String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
                String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }
}

/// Waits until the leader reports exactly `voters` as voting members and no learner.
func waitForMembers(_ cluster: RunnelCluster, voters: Set<UInt64>, within timeout: Duration) async throws {
    let deadline = ContinuousClock.now + timeout
    var seen: [ClusterState?] = []
    while ContinuousClock.now < deadline {
        seen = await cluster.statuses()
        if let leader = RunnelCluster.latestLeader(seen), leader.voters == voters, leader.learners.isEmpty { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("members did not become \(voters.sorted()) within \(timeout): \(cluster.describe(seen))")
    throw CancellationError()
}

/// Polls `condition` until it holds, failing after `timeout`.
private func waitUntil(_ what: String, within timeout: Duration, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting for \(what)")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}
