import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A group of real `runnel serve` processes on loopback, each with its own data directory,
/// peering over TCP, for integration tests. HTTP ports are chosen by the OS; peer ports are
/// reserved up front because every node must know the others' addresses at start.
public final class RunnelCluster: @unchecked Sendable {
    public let nodes: [RunnelProcess]
    public let directories: [String]
    /// The CA (PEM) clients trust when the nodes serve HTTPS.
    public let trustRoot: String?
    /// The admin token the cluster's own status queries send, when the nodes have one.
    public var adminToken: String?

    /// `perNodeArguments(i)` adds flags to node `i` only (0-based).
    public init(size: Int, name: String, arguments: [String] = [], trustRoot: String? = nil,
                perNodeArguments: (Int) -> [String] = { _ in [] }) throws {
        self.trustRoot = trustRoot
        let peerPorts = try Self.freePorts(size)
        let peers = (0..<size).map { "\($0 + 1)=127.0.0.1:\(peerPorts[$0])" }.joined(separator: ",")
        let directories = (0..<size).map { RunnelProcess.temporaryDirectory("\(name)-n\($0 + 1)") }
        self.directories = directories
        nodes = (0..<size).map { i in
            RunnelProcess(dataDirectory: directories[i], arguments: [
                "--node-id", String(i + 1), "--peers", peers, "--peer-listen", "127.0.0.1:\(peerPorts[i])",
            ] + arguments + perNodeArguments(i))
        }
    }

    /// Starts every node (concurrently) and waits until one of them leads and, unless
    /// `formed` is false, until every node is a voting member. (A node that starts late may
    /// be taken for one that lost its data and go through replacement, which leaves the group
    /// a voter short for a while: a test that then stops a node would see no majority.)
    public func start(timeout: Duration = .seconds(60), formed: Bool = true) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for node in nodes { group.addTask { try await node.start(timeout: timeout) } }
            try await group.waitForAll()
        }
        _ = try await waitForLeader(timeout: timeout)
        if formed { try await waitForFormation(timeout: timeout) }
    }

    /// Waits until every running node is a member and the leader counts each of them a voter.
    public func waitForFormation(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        var seen: [ClusterState?] = []
        while ContinuousClock.now < deadline {
            seen = await statuses()
            let running = nodes.indices.filter { nodes[$0].isRunning }
            let ids = Set(running.compactMap { seen[$0]?.nodeID })
            if ids.count == running.count, running.allSatisfy({ seen[$0]?.admission == "member" }),
               let leader = Self.latestLeader(seen), ids.isSubset(of: leader.voters), leader.learners.isEmpty {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HTTPTestClient.ClientError(description: "the cluster did not form within \(timeout): \(describe(seen))")
    }

    /// Every node's status (nil where a node does not answer), in `nodes` order.
    public func statuses() async -> [ClusterState?] {
        await withTaskGroup(of: (Int, ClusterState?).self) { group in
            for i in nodes.indices { group.addTask { (i, await self.status(i)) } }
            var result = [ClusterState?](repeating: nil, count: nodes.count)
            for await (i, state) in group { result[i] = state }
            return result
        }
    }

    /// The status of the leader of the highest term among `states` (a deposed leader may not
    /// have heard of its successor yet).
    public static func latestLeader(_ states: [ClusterState?]) -> ClusterState? {
        states.compactMap { $0 }.filter { $0.role == "leader" }.max { $0.term < $1.term }
    }

    /// A line per node for failure messages: what its status said, or that it did not answer.
    public func describe(_ states: [ClusterState?]) -> String {
        states.enumerated().map { i, s in
            guard let s else { return "node \(i + 1): \(nodes[i].isRunning ? "no answer" : "not running")" }
            return "node \(i + 1): \(s.role) term \(s.term) leader \(s.leaderID) \(s.admission) commit \(s.commitIndex) "
                + "applied \(s.appliedIndex) last \(s.lastIndex) voters \(s.voters.sorted()) learners \(s.learners.sorted())"
        }.joined(separator: "; ")
    }

    /// The status document of node `i` (`/admin/v1/cluster`), or nil if it does not answer
    /// within 2 s (a stopped process).
    public func status(_ i: Int) async -> ClusterState? {
        guard nodes[i].isRunning, let client = try? await HTTPTestClient(port: nodes[i].port, trustRoot: trustRoot) else { return nil }
        defer { Task { await client.close() } }
        let headers = adminToken.map { [("Authorization", "Bearer \($0)")] } ?? []
        guard let response = try? await client.request("GET", "/admin/v1/cluster", headers: headers, timeout: .seconds(2)), response.status == 200 else { return nil }
        return ClusterState(json: response.text)
    }

    /// Waits until a running node (other than `excluding`) reports itself leader and returns
    /// its position in `nodes`.
    public func waitForLeader(excluding: Set<Int> = [], timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for i in nodes.indices where !excluding.contains(i) {
                if let s = await status(i), s.role == "leader" { return i }
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw HTTPTestClient.ClientError(description: "no leader within \(timeout): \(describe(await statuses()))")
    }

    /// Waits until the leader has committed its whole log and every running node has applied it.
    /// (A leader fresh from an election may not yet have committed the entries it inherited:
    /// its commit index alone would let a node still holding unapplied entries pass.)
    public func waitForConvergence(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let states = await statuses().enumerated().filter { nodes[$0.offset].isRunning }.map(\.element)
            // The leader of the highest term: its own commit index says nothing about the others'.
            let leaders = states.compactMap({ $0 }).filter { $0.role == "leader" }
            if states.allSatisfy({ $0 != nil }), let leader = Self.latestLeader(states),
               leaders.allSatisfy({ $0.term == leader.term }),
               leader.commitIndex == leader.lastIndex,
               states.compactMap({ $0 }).allSatisfy({ $0.appliedIndex >= leader.commitIndex }) {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HTTPTestClient.ClientError(description: "nodes did not converge within \(timeout)")
    }

    public func kill() { for node in nodes { node.kill() } }

    public func removeData() {
        for d in directories {
            try? FileManager.default.removeItem(atPath: d)
            if ProcessInfo.processInfo.environment["RUNNEL_KEEP_LOGS"] == nil { try? FileManager.default.removeItem(atPath: d + ".log") }
        }
    }

    /// Ports free on loopback right now (bound, then released) for nodes to listen on later.
    ///
    /// They come from below the kernel's ephemeral range (Linux: 32768 and up). A port the OS
    /// handed out for port 0 could, once released, be taken again before the node binds it by
    /// any outgoing connection's source port or another port-0 listener of the tests running
    /// alongside (a CI run failed so: "cannot listen for peers … Address already in use").
    /// Ports below that range are taken only by someone asking for them by number; a counter
    /// shared by the process, from a random start, keeps concurrent tests apart.
    public static func freePorts(_ count: Int) throws -> [Int] {
        var ports: [Int] = []
        var tries = 0
        while ports.count < count {
            tries += 1
            guard tries <= 10 * reservedPorts.count else {
                throw HTTPTestClient.ClientError(description: "no free port in \(reservedPorts)")
            }
            let port = nextReservedPort.withLock { next -> Int in
                defer { next = next + 1 < reservedPorts.upperBound ? next + 1 : reservedPorts.lowerBound }
                return next
            }
            guard let channel = try? ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: "127.0.0.1", port: port).wait()
            else { continue }
            try? channel.close().wait()
            ports.append(port)
        }
        return ports
    }

    private static let reservedPorts = 20_000..<32_000
    private static let nextReservedPort = Mutex(Int.random(in: reservedPorts))
}

/// The fields of `/admin/v1/cluster` the tests look at.
public struct ClusterState: Sendable {
    public var nodeID: UInt64
    public var role: String
    public var term: UInt64
    public var leaderID: UInt64
    public var commitIndex: UInt64
    public var appliedIndex: UInt64
    /// The last index in the node's log (committed or not).
    public var lastIndex: UInt64
    /// `member`, `probing` or `awaiting_admission`.
    public var admission: String
    /// The members as this node knows them.
    public var voters: Set<UInt64>
    public var learners: Set<UInt64>

    init?(json: String) {
        guard let data = json.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let node = object["node_id"] as? NSNumber, let role = object["role"] as? String,
              let term = object["term"] as? NSNumber, let leader = object["leader_id"] as? NSNumber,
              let commit = object["commit_index"] as? NSNumber, let applied = object["applied_index"] as? NSNumber,
              let last = object["last_index"] as? NSNumber
        else { return nil }
        nodeID = node.uint64Value
        self.role = role
        self.term = term.uint64Value
        leaderID = leader.uint64Value
        commitIndex = commit.uint64Value
        appliedIndex = applied.uint64Value
        lastIndex = last.uint64Value
        admission = object["admission"] as? String ?? ""
        let members = object["members"] as? [[String: Any]] ?? []
        let id = { (m: [String: Any]) in (m["id"] as? NSNumber)?.uint64Value }
        voters = Set(members.filter { $0["voter"] as? Bool == true }.compactMap(id))
        learners = Set(members.filter { $0["voter"] as? Bool == false }.compactMap(id))
    }
}
