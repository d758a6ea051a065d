import Foundation
import RunnelTesting
import Synchronization
import Testing

/// Three real `runnel` processes on loopback (design.md "The promise to users"): an
/// acknowledged append survives the loss of any minority, any node serves any request, and a
/// node cut off from the majority refuses rather than serve stale data.
@Suite(.serialized) struct ClusterTests {
    /// Election timeouts are drawn from [500, 1000) ms (10 ticks of 50 ms, doubled at most).
    static let electionTimeout: Duration = .milliseconds(1000)

    @Test func writesOnAnyNodeAreReadableOnEveryNode() async throws {
        let cluster = try RunnelCluster(size: 3, name: "rw")
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let clients = try await cluster.nodes.asyncMap { try await HTTPTestClient(port: $0.port) }
        #expect(try await clients[1].request("PUT", "/v1/stream/rw", headers: [("Content-Type", "text/plain")]).status == 201)
        // Read-your-writes across nodes: append on one node, read at once on another.
        var expected = ""
        for i in 0..<30 {
            let writer = clients[i % 3], reader = clients[(i + 1) % 3]
            let body = "m\(i);"
            #expect(try await writer.request("POST", "/v1/stream/rw", headers: [("Content-Type", "text/plain")], body: Array(body.utf8)).status == 204)
            expected += body
            #expect(try await reader.request("GET", "/v1/stream/rw?offset=-1").text == expected)
        }
        // Buckets and HEAD too.
        #expect(try await clients[2].request("PUT", "/ds/team").status == 201)
        #expect(try await clients[0].request("GET", "/ds/team").status == 200)
        #expect(try await clients[0].request("HEAD", "/v1/stream/rw").header("Stream-Next-Offset") != nil)
        for c in clients { await c.close() }
    }

    @Test func sigkillOfTheLeaderUnderLoadLosesNoAcknowledgedAppend() async throws {
        let cluster = try RunnelCluster(size: 3, name: "kill")
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let setup = try await HTTPTestClient(port: cluster.nodes[leader].port)
        #expect(try await setup.request("PUT", "/v1/stream/k", headers: [("Content-Type", "text/plain")]).status == 201)
        await setup.close()

        let load = AppendLoad(cluster: cluster, path: "/v1/stream/k", clients: 32)
        let task = Task { await load.run() }
        try await Task.sleep(for: .milliseconds(1500))
        let killed = ContinuousClock.now
        cluster.nodes[leader].kill()
        let newLeader = try await cluster.waitForLeader(excluding: [leader], timeout: .seconds(10))
        let elected = ContinuousClock.now - killed
        // Serving: a write through the new leader succeeds.
        let probe = try await HTTPTestClient(port: cluster.nodes[newLeader].port)
        #expect(try await probe.request("POST", "/v1/stream/k", headers: [("Content-Type", "text/plain")], body: Array("probe;".utf8)).status == 204)
        let serving = ContinuousClock.now - killed
        await probe.close()
        #expect(serving < Self.electionTimeout * 3 + .milliseconds(600), "new leader serving after \(serving) (elected after \(elected))")
        try await Task.sleep(for: .milliseconds(1500))
        load.stop()
        await task.value

        try await cluster.nodes[leader].start()
        try await cluster.waitForConvergence()
        try await expectIdenticalStreams(cluster, "/v1/stream/k", acknowledged: load.acknowledged, extra: ["probe;"])
        #expect(load.acknowledged.count > 100, "too few appends acknowledged: \(load.acknowledged.count)")
    }

    @Test func hungFollowerAndHungLeaderRecover() async throws {
        let cluster = try RunnelCluster(size: 3, name: "hang")
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let follower = (leader + 1) % 3
        let setup = try await HTTPTestClient(port: cluster.nodes[leader].port)
        #expect(try await setup.request("PUT", "/v1/stream/h", headers: [("Content-Type", "text/plain")]).status == 201)
        await setup.close()
        let load = AppendLoad(cluster: cluster, path: "/v1/stream/h", clients: 8)
        let task = Task { await load.run() }

        cluster.nodes[follower].signal(SIGSTOP)
        try await Task.sleep(for: .milliseconds(800))
        let before = load.acknowledged.count
        try await Task.sleep(for: .milliseconds(800))
        if load.acknowledged.count <= before {
            Issue.record("writes stalled while a follower hung: \(cluster.describe(await cluster.statuses()))")
        }
        cluster.nodes[follower].signal(SIGCONT)

        cluster.nodes[leader].signal(SIGSTOP)
        let newLeader = try await cluster.waitForLeader(excluding: [leader], timeout: .seconds(10))
        // Writes resume under the new leader. Requests that were queued on the hung leader
        // (sent to it, or forwarded to it and not yet replicated) are only given up by their
        // client's 3 s timeout, so the deadline is longer than that.
        let afterElection = load.acknowledged.count
        let resumeDeadline = ContinuousClock.now + .seconds(6)
        while load.acknowledged.count <= afterElection, ContinuousClock.now < resumeDeadline {
            try await Task.sleep(for: .milliseconds(25))
        }
        if load.acknowledged.count <= afterElection {
            Issue.record("writes stalled after the leader hung (new leader \(newLeader + 1)): \(cluster.describe(await cluster.statuses()))")
        }
        cluster.nodes[leader].signal(SIGCONT)
        try await Task.sleep(for: .milliseconds(500))
        load.stop()
        await task.value
        try await cluster.waitForConvergence()
        try await expectIdenticalStreams(cluster, "/v1/stream/h", acknowledged: load.acknowledged)
    }

    @Test func aNodeCutOffFromTheMajorityRefusesWritesAndLinearizableReads() async throws {
        let cluster = try RunnelCluster(size: 3, name: "minority", arguments: ["--write-timeout", "2", "--read-timeout", "2"])
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let client = try await HTTPTestClient(port: cluster.nodes[0].port)
        #expect(try await client.request("PUT", "/v1/stream/m", headers: [("Content-Type", "text/plain")]).status == 201)
        #expect(try await client.request("POST", "/v1/stream/m", headers: [("Content-Type", "text/plain")], body: Array("a".utf8)).status == 204)
        cluster.nodes[1].kill()
        cluster.nodes[2].kill()

        let write = try await client.request("POST", "/v1/stream/m", headers: [("Content-Type", "text/plain")], body: Array("b".utf8), timeout: .seconds(10))
        #expect(write.status == 503)
        #expect(write.header("Retry-After") != nil)
        #expect(write.text.contains("\"code\""))
        let read = try await client.request("GET", "/v1/stream/m?offset=-1", timeout: .seconds(10))
        #expect(read.status == 503)
        let local = try await client.request("GET", "/v1/stream/m?offset=-1&consistency=local")
        #expect(local.status == 200)
        #expect(local.text.hasPrefix("a"))
        #expect(try await client.request("GET", "/readyz").status == 503)
        #expect(try await client.request("GET", "/v1/stream/m?consistency=eventual").status == 400)
        await client.close()
    }

    @Test func restartingEveryNodeRecoversEveryAcknowledgedAppend() async throws {
        let cluster = try RunnelCluster(size: 3, name: "restart")
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let setup = try await HTTPTestClient(port: cluster.nodes[leader].port)
        #expect(try await setup.request("PUT", "/v1/stream/r", headers: [("Content-Type", "text/plain")]).status == 201)
        await setup.close()
        let load = AppendLoad(cluster: cluster, path: "/v1/stream/r", clients: 16)
        let task = Task { await load.run() }
        try await Task.sleep(for: .milliseconds(1200))
        cluster.kill()  // every node at once, mid-load
        load.stop()
        await task.value

        for node in cluster.nodes { try await node.start() }  // identity and peers from the data
        _ = try await cluster.waitForLeader()
        try await cluster.waitForConvergence()
        try await expectIdenticalStreams(cluster, "/v1/stream/r", acknowledged: load.acknowledged)
        #expect(load.acknowledged.count > 50)
    }

    @Test func sigtermOfTheLeaderHandsLeadershipOver() async throws {
        let cluster = try RunnelCluster(size: 3, name: "term")
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let before = try #require(await cluster.status(leader)).term
        cluster.nodes[leader].terminate()
        #expect(cluster.nodes[leader].log.contains("handing leadership over"))
        let next = try await cluster.waitForLeader(excluding: [leader], timeout: .seconds(5))
        let after = try #require(await cluster.status(next))
        // A transfer elects the new leader in the next term, without waiting for a timeout.
        #expect(after.term == before + 1)
    }

    @Test func adminEndpointsDescribeTheGroup() async throws {
        let cluster = try RunnelCluster(size: 3, name: "admin")
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let follower = (leader + 1) % 3
        let client = try await HTTPTestClient(port: cluster.nodes[follower].port)
        let status = try await client.request("GET", "/admin/v1/cluster")
        #expect(status.status == 200)
        #expect(status.text.contains("\"role\":\"follower\""))
        #expect(status.text.contains("\"leader_id\":\(leader + 1)"))
        #expect(status.text.contains("\"voter\":true"))
        #expect(try await client.request("POST", "/admin/v1/cluster/transfer-leader").status == 409)
        // Malformed membership requests: 400 with a stable code, on any node.
        for (method, path, body, code) in [
            ("POST", "/admin/v1/cluster/members", "{}", "invalid_body"),
            ("POST", "/admin/v1/cluster/members", "{\"id\":\"4\",\"address\":\"127.0.0.1:1\"}", "invalid_body"),
            ("POST", "/admin/v1/cluster/members", "{\"id\":0,\"address\":\"127.0.0.1:1\"}", "invalid_member_id"),
            ("POST", "/admin/v1/cluster/members", "{\"id\":4,\"address\":\"no-port\"}", "invalid_address"),
            ("DELETE", "/admin/v1/cluster/members/x", "", "invalid_member_id"),
        ] {
            let response = try await client.request(method, path, body: Array(body.utf8))
            #expect(response.status == 400 && response.text.contains("\"\(code)\""), "\(path) \(body): \(response.text)")
        }
        let unknown = try await client.request("DELETE", "/admin/v1/cluster/members/9")
        #expect(unknown.status == 404 && unknown.text.contains("member_not_found"), "\(unknown.text)")
        await client.close()

        let leaderClient = try await HTTPTestClient(port: cluster.nodes[leader].port)
        let target = (leader + 2) % 3
        // The bad target first: once leadership has moved, this node would answer 409.
        #expect(try await leaderClient.request("POST", "/admin/v1/cluster/transfer-leader", body: Array("{\"to\": 99}".utf8)).status == 400)
        #expect(try await leaderClient.request("POST", "/admin/v1/cluster/transfer-leader", body: Array("{\"to\": \(target + 1)}".utf8)).status == 202)
        await leaderClient.close()
        let next = try await cluster.waitForLeader(excluding: [leader], timeout: .seconds(5))
        #expect(next == target)
    }

    /// Every running node holds the same bytes; every acknowledged message is there exactly once.
    func expectIdenticalStreams(_ cluster: RunnelCluster, _ path: String, acknowledged: [String], extra: [String] = []) async throws {
        var bodies: [String] = []
        for node in cluster.nodes where node.isRunning {
            let client = try await HTTPTestClient(port: node.port)
            let response = try await client.request("GET", "\(path)?offset=-1&consistency=local")
            #expect(response.status == 200)
            #expect(response.header("Stream-Up-To-Date") == "true")
            bodies.append(response.text)
            await client.close()
        }
        #expect(Set(bodies).count == 1, "nodes differ: lengths \(bodies.map(\.count))")
        let messages = bodies[0].split(separator: ";").map { String($0) + ";" }
        let repeated = Dictionary(grouping: messages, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(repeated.isEmpty, "duplicated messages: \(repeated.prefix(10)) (acknowledged: \(repeated.filter(acknowledged.contains)))")
        let stored = Set(messages)
        let missing = (acknowledged + extra).filter { !stored.contains($0) }
        #expect(missing.isEmpty, "\(missing.count) acknowledged appends lost, e.g. \(missing.prefix(5))")
    }
}

/// `clients` concurrent appenders, each with one request in flight, spread over the nodes.
/// A client whose node fails (refused, reset, 5xx, hung) moves to the next node; the message
/// it was sending counts as not acknowledged, and it never resends it.
final class AppendLoad: Sendable {
    let cluster: RunnelCluster
    let path: String
    let clients: Int
    private let state = Mutex<(acks: [String], stopped: Bool)>(([], false))

    init(cluster: RunnelCluster, path: String, clients: Int) {
        self.cluster = cluster
        self.path = path
        self.clients = clients
    }

    var acknowledged: [String] { state.withLock { $0.acks } }
    func stop() { state.withLock { $0.stopped = true } }
    private var stopped: Bool { state.withLock { $0.stopped } }

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            for c in 0..<clients { group.addTask { await self.client(c) } }
        }
    }

    private func client(_ c: Int) async {
        var node = c % cluster.nodes.count
        var connection: HTTPTestClient?
        var n = 0
        while !stopped {
            if connection == nil {
                connection = try? await HTTPTestClient(port: cluster.nodes[node].port)
                if connection == nil {
                    node = (node + 1) % cluster.nodes.count
                    try? await Task.sleep(for: .milliseconds(20))
                    continue
                }
            }
            n += 1
            let message = "c\(c)-\(n);"
            let response = try? await connection!.request(
                "POST", path, headers: [("Content-Type", "text/plain")], body: Array(message.utf8), timeout: .seconds(3))
            if response?.status == 204 {
                state.withLock { $0.acks.append(message) }
            } else {
                await connection?.close()
                connection = nil
                node = (node + 1) % cluster.nodes.count
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        await connection?.close()
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

/// Peers talk mutual TLS with `--peer-tls-ca`, and refuse a peer whose certificate does not
/// chain to that CA (issue 5: "refuse unauthenticated peers").
@Suite(.serialized) struct PeerTLSTests {
    /// A CA and a certificate for 127.0.0.1 signed by it, made with the openssl CLI.
    static func makeCA(named name: String, in dir: String) throws -> (ca: String, cert: String, key: String) {
        let p = "\(dir)/\(name)"
        let script = """
            set -e
            openssl req -x509 -newkey rsa:2048 -nodes -keyout \(p)-ca.key -out \(p)-ca.pem -days 2 -subj /CN=\(name)-ca \
              -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
            openssl req -newkey rsa:2048 -nodes -keyout \(p).key -out \(p).csr -subj /CN=127.0.0.1
            printf 'subjectAltName=IP:127.0.0.1\\n' > \(p).ext
            openssl x509 -req -in \(p).csr -CA \(p)-ca.pem -CAkey \(p)-ca.key -CAcreateserial -out \(p).pem -days 2 -extfile \(p).ext
            """
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/bash")
        shell.arguments = ["-c", script]
        shell.standardError = FileHandle.nullDevice
        shell.standardOutput = FileHandle.nullDevice
        try shell.run()
        shell.waitUntilExit()
        guard shell.terminationStatus == 0 else { throw HTTPTestClient.ClientError(description: "openssl failed") }
        return ("\(p)-ca.pem", "\(p).pem", "\(p).key")
    }

    @Test func peersUseMutualTLSAndRefuseAStranger() async throws {
        let dir = RunnelProcess.temporaryDirectory("peer-tls")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = try Self.makeCA(named: "good", in: dir)
        let rogue = try Self.makeCA(named: "rogue", in: dir)
        // Node 3 presents a certificate from another CA (and trusts only that CA).
        let cluster = try RunnelCluster(size: 3, name: "peer-tls", trustRoot: good.ca) { i in
            let tls = i == 2 ? rogue : good
            return ["--tls-cert", tls.cert, "--tls-key", tls.key, "--peer-tls-ca", tls.ca]
        }
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start(formed: false)
        let leader = try await cluster.waitForLeader(excluding: [2])
        #expect(leader != 2)
        let client = try await HTTPTestClient(port: cluster.nodes[leader].port, trustRoot: good.ca)
        #expect(try await client.request("PUT", "/v1/stream/tls", headers: [("Content-Type", "text/plain")]).status == 201)
        #expect(try await client.request("POST", "/v1/stream/tls", headers: [("Content-Type", "text/plain")], body: Array("x".utf8)).status == 204)
        await client.close()
        // The two nodes with the right CA replicate; the stranger never hears from them.
        try await Task.sleep(for: .seconds(1))
        let stranger = try await HTTPTestClient(port: cluster.nodes[2].port, trustRoot: rogue.ca)
        let status = try await stranger.request("GET", "/admin/v1/cluster")
        #expect(status.text.contains("\"leader_id\":0"), "\(status.text)")
        #expect(try await stranger.request("GET", "/readyz").status == 503)
        await stranger.close()
    }
}
