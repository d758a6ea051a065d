import Foundation
import RunnelTesting
import Testing

/// State transfer with real processes (issue 15; docs/state-transfer.md): a node that joins
/// after the log was compacted catches up by snapshot, also when it is killed in the middle of
/// the transfer. `RUNNEL_TRANSFER_MIB` sets the state's size (default 32 in `make test`; the
/// issue's 256 MiB runs in `make test-deep`).
@Suite(.serialized) struct StateTransferTests {
    static let mib = ProcessInfo.processInfo.environment["RUNNEL_TRANSFER_MIB"].flatMap(Int.init) ?? 32
    static let streams = (0..<4).map { "/v1/stream/big\($0)" }

    /// A 3-node cluster holding `mib` MiB in four streams, whose leader took a snapshot and
    /// compacted its log; returns the leader's position.
    static func filledCluster(_ name: String) async throws -> (RunnelCluster, Int) {
        let cluster = try RunnelCluster(size: 3, name: name, arguments: ["--retained-log-entries", "8"])
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let client = try await HTTPTestClient(port: cluster.nodes[leader].port)
        defer { Task { await client.close() } }
        for path in streams {
            #expect(try await client.request("PUT", path, headers: [("Content-Type", "application/octet-stream")]).status == 201)
        }
        for i in 0..<mib {
            let body = [UInt8](repeating: UInt8(truncatingIfNeeded: i &* 7 &+ 1), count: 1 << 20)
            let status = try await client.request("POST", streams[i % streams.count], headers: [("Content-Type", "application/octet-stream")],
                                                  body: body, timeout: .seconds(30)).status
            #expect(status == 204)
        }
        let filled = ContinuousClock.now
        let snapshotClient = try await HTTPTestClient(port: cluster.nodes[leader].port)
        let snapshot = try await snapshotClient.request("POST", "/admin/v1/snapshot", timeout: .seconds(120))
        await snapshotClient.close()
        print("transfer: \(mib) MiB written, snapshot taken in \(ContinuousClock.now - filled)")
        #expect(snapshot.status == 200, "\(snapshot.text)")
        let doc = try JSONSerialization.jsonObject(with: Data(snapshot.body)) as? [String: Any]
        #expect(((doc?["log_start"] as? NSNumber)?.uint64Value ?? 0) > UInt64(mib / 2), "the log was not compacted: \(snapshot.text)")
        return (cluster, leader)
    }

    static func joiner(_ cluster: RunnelCluster, _ directory: String) throws -> RunnelProcess {
        let peerPort = try RunnelCluster.freePorts(1)[0]
        return RunnelProcess(dataDirectory: directory, arguments: [
            "--node-id", "4", "--join", "http://127.0.0.1:\(cluster.nodes[0].port)", "--advertise", "127.0.0.1:\(peerPort)",
        ])
    }

    static func expectIdentical(_ cluster: RunnelCluster, leader: Int, _ node: RunnelProcess) async throws {
        let leaderClient = try await HTTPTestClient(port: cluster.nodes[leader].port)
        let nodeClient = try await HTTPTestClient(port: node.port)
        for path in streams {
            var offset = "-1"
            var expected: [UInt8] = [], got: [UInt8] = []
            // Catch-up reads come in chunks: follow Stream-Next-Offset on both.
            for (client, into) in [(leaderClient, 0), (nodeClient, 1)] {
                offset = "-1"
                var bytes: [UInt8] = []
                while true {
                    // Linearizable (the default): node 4 answers once it has applied what the
                    // leader committed, its snapshot included.
                    let r = try await client.request("GET", "\(path)?offset=\(offset)", timeout: .seconds(30))
                    #expect(r.status == 200, "\(into == 0 ? "leader" : "node 4") \(path) at \(offset): \(r.text.prefix(300))")
                    bytes += r.body
                    guard r.header("Stream-Up-To-Date") != "true", let next = r.header("Stream-Next-Offset") else { break }
                    offset = next
                }
                if into == 0 { expected = bytes } else { got = bytes }
            }
            #expect(expected.count >= (mib / streams.count) << 20, "\(path): \(expected.count) bytes on the leader")
            // Compared as one Bool: a failed #expect on two arrays would diff megabytes.
            let identical = got == expected
            let firstDifference = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, expected.count)
            #expect(identical, "\(path) differs through node 4 (\(got.count) vs \(expected.count) bytes, first at \(firstDifference))")
        }
        await leaderClient.close()
        await nodeClient.close()
    }

    @Test func aNodeThatJoinsAfterCompactionCatchesUpBySnapshotEvenWhenKilledMidTransfer() async throws {
        let (cluster, leader) = try await Self.filledCluster("transfer")
        let directory = RunnelProcess.temporaryDirectory("transfer-n4")
        defer {
            cluster.kill()
            cluster.removeData()
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: directory + ".log")
        }
        let joiner = try Self.joiner(cluster, directory)
        defer { joiner.kill() }
        let started = ContinuousClock.now
        try await joiner.start(timeout: .seconds(60))

        // SIGKILL it once part of the snapshot is staged, then start it again.
        let snapshots = directory + "/snapshots"
        let deadline = ContinuousClock.now + .seconds(60)
        var staged: UInt64 = 0
        while staged == 0, ContinuousClock.now < deadline {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: snapshots)) ?? []
            for f in files where f.hasPrefix("incoming-") {
                staged = ((try? FileManager.default.attributesOfItem(atPath: snapshots + "/" + f))?[.size] as? NSNumber)?.uint64Value ?? 0
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(staged > 0, "no snapshot transfer was seen in progress")
        joiner.kill()
        try await joiner.start(timeout: .seconds(60))

        try await waitForMembers(cluster, voters: [1, 2, 3, 4], within: .seconds(180))
        let voterAfter = ContinuousClock.now - started
        try await cluster.waitForConvergence(timeout: .seconds(60))
        do {
            try await Self.expectIdentical(cluster, leader: leader, joiner)
        } catch {
            Issue.record("reading through node 4 failed (\(error)); running: \(joiner.isRunning); its log ends: \(joiner.log.suffix(3000))")
        }
        print("transfer: \(Self.mib) MiB; node 4 killed after \(staged) bytes staged; voter \(voterAfter) after its first start")
    }
}
