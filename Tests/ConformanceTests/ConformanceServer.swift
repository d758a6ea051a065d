import Foundation
import RunnelTesting
import Synchronization
import Testing

/// The `runnel` server every conformance test talks to, started lazily on first use (Swift
/// Testing has no `beforeAll`): one process, or with `RUNNEL_CONFORMANCE_NODES=3` a cluster
/// of three whose nodes each request picks at random (issue 5: the protocol on any node).
/// With `RUNNEL_CONFORMANCE_TLS=1` the nodes serve HTTPS with a certificate made for the run,
/// and every client (the pool and `SSEClient`) trusts only that certificate (issue 3).
/// Data lives in temporary directories; the processes are killed when the test process exits.
enum ConformanceServer {
    /// The long-poll timeout the server runs with: well under the suite's 5 s per test
    /// (conformance §2.2).
    static let longPollTimeoutSeconds = 1

    static let nodeCount = Int(ProcessInfo.processInfo.environment["RUNNEL_CONFORMANCE_NODES"] ?? "") ?? 1

    static let tls = ProcessInfo.processInfo.environment["RUNNEL_CONFORMANCE_TLS"] == "1"

    /// With `RUNNEL_CONFORMANCE_AUTH=1` the nodes require credentials (a bootstrap admin token)
    /// and every request of the suite carries an API key with `read` and `write`, made for
    /// the run (docs/access-control.md).
    static let auth = ProcessInfo.processInfo.environment["RUNNEL_CONFORMANCE_AUTH"] == "1"
    static let adminToken = "conformance-admin-token-0123456789abcdef"

    /// The `Authorization` value the suite's requests carry, nil without `auth`.
    static func authorization() async throws -> String? {
        try await started.value.authorization
    }

    /// The URL scheme the server answers on (`Location` headers carry it).
    static var scheme: String { tls ? "https" : "http" }

    private struct Endpoints {
        var ports: [Int]
        /// The certificate (PEM) clients trust, over TLS.
        var trustRoot: String?
        var authorization: String?
    }

    private static let started = Task<Endpoints, any Error> {
        var arguments = ["--long-poll-timeout", String(longPollTimeoutSeconds)]
        var trustRoot: String?
        if tls {
            let (cert, key) = try TestCertificate.selfSigned(in: RunnelProcess.temporaryDirectory("conformance-certs"))
            arguments += ["--tls-cert", cert, "--tls-key", key]
            trustRoot = cert
        }
        if auth {
            let file = RunnelProcess.temporaryDirectory("conformance-token") + ".txt"
            try adminToken.write(toFile: file, atomically: true, encoding: .utf8)
            arguments += ["--admin-token-file", file]
        }
        // Before anything can return or throw: the 3-node authenticated run once returned
        // before registering this, and left its three nodes running after every `make test`.
        atexit {
            ConformanceServer.running.withLock { for p in $0 { p.kill() } }
        }
        let processes: [RunnelProcess]
        if nodeCount > 1 {
            // Debug builds move a 10 MiB body slowly; three of them at once on two cores can take
            // longer than the default write timeout.
            let cluster = try RunnelCluster(
                size: nodeCount, name: "conformance", arguments: arguments + ["--write-timeout", "30", "--read-timeout", "30"],
                trustRoot: trustRoot)
            if auth { cluster.adminToken = adminToken }
            running.withLock { $0 = cluster.nodes }
            try await cluster.start()
            processes = cluster.nodes
            if auth {
                let authorization = try await makeKey(port: cluster.nodes[0].port, trustRoot: trustRoot)
                try await cluster.waitForConvergence()
                return Endpoints(ports: processes.map(\.port), trustRoot: trustRoot, authorization: authorization)
            }
        } else {
            let process = RunnelProcess(dataDirectory: RunnelProcess.temporaryDirectory("conformance"), arguments: arguments)
            running.withLock { $0 = [process] }
            try await process.start()
            processes = [process]
        }
        let authorization = auth ? try await makeKey(port: processes[0].port, trustRoot: trustRoot) : nil
        return Endpoints(ports: processes.map(\.port), trustRoot: trustRoot, authorization: authorization)
    }

    /// Creates the suite's API key with the admin token; returns its `Authorization` value.
    private static func makeKey(port: Int, trustRoot: String?) async throws -> String {
        let client = try await HTTPTestClient(port: port, trustRoot: trustRoot)
        defer { Task { await client.close() } }
        let response = try await client.request(
            "POST", "/admin/v1/keys", headers: [("Authorization", "Bearer \(adminToken)"), ("Content-Type", "application/json")],
            body: Array("{\"name\":\"conformance\",\"scopes\":[\"read\",\"write\"]}".utf8))
        guard response.status == 201,
              let doc = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let token = doc["token"] as? String
        else { throw TestFailure("could not create the suite's API key: \(response.status) \(response.text)") }
        return "Bearer \(token)"
    }

    /// Set before the processes start, so the `atexit` hook can kill them.
    private static let running = Mutex<[RunnelProcess]>([])

    /// The loopback port of a node (one chosen at random in a cluster), starting the server
    /// on first call.
    static func port() async throws -> Int {
        try await started.value.ports.randomElement()!
    }

    /// The certificate (PEM) clients must trust, nil over plain HTTP.
    static func trustRoot() async throws -> String? {
        try await started.value.trustRoot
    }
}

/// A pool of keep-alive connections to the server's nodes. `HTTPTestClient` carries one
/// request at a time, so concurrent requests each borrow their own connection.
actor ConnectionPool {
    static let shared = ConnectionPool()
    private var idle: [Int: [HTTPTestClient]] = [:]

    private func take(_ port: Int) -> HTTPTestClient? { idle[port]?.popLast() }

    private func give(_ client: HTTPTestClient) async {
        if idle[client.port, default: []].count < 64 { idle[client.port, default: []].append(client) } else { await client.close() }
    }

    /// Sends one request on a pooled connection to a node. A reused connection that the server
    /// has closed fails before any response byte; only then is the request retried once.
    func request(
        _ method: String, _ path: String, headers given: [(String, String)], body: [UInt8]?
    ) async throws -> HTTPTestClient.Response {
        let port = try await ConformanceServer.port()
        var headers = given
        if let authorization = try await ConformanceServer.authorization() { headers.append(("Authorization", authorization)) }
        if let client = take(port) {
            do {
                let response = try await client.request(method, path, headers: headers, body: body)
                await give(client)
                return response
            } catch {
                await client.close()
                try Task.checkCancellation()
            }
        }
        let client = try await HTTPTestClient(port: port, trustRoot: ConformanceServer.trustRoot())
        do {
            let response = try await client.request(method, path, headers: headers, body: body)
            await give(client)
            return response
        } catch {
            await client.close()
            throw error
        }
    }
}

/// Runs each conformance test case with the shared server already up and with at most
/// `limit` cases in flight. Unbounded, Swift Testing starts every case at once; the request
/// latency that piles up then blurs the suite's second-scale TTL timings (the official suite
/// runs a file's tests one after another).
struct ConformanceScope: SuiteTrait, TestTrait, TestScoping {
    /// On a 3-node cluster every write crosses the peer transport and fsyncs on three nodes of
    /// a 2-core machine: fewer cases at once, so the 2-second TTL windows of the expiry cases
    /// are not eaten by the 10 MiB bodies of their neighbours.
    static let limit = ConformanceServer.nodeCount > 1 ? 6 : 12
    static let gate = Gate(limit: limit)

    var isRecursive: Bool { true }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        _ = try await ConformanceServer.port()
        await Self.gate.acquire()
        do {
            try await function()
        } catch {
            await Self.gate.release()
            throw error
        }
        await Self.gate.release()
    }

    /// A counting semaphore for tasks.
    actor Gate {
        private let limit: Int
        private var inUse = 0
        private var waiters: [CheckedContinuation<Void, Never>] = []

        init(limit: Int) { self.limit = limit }

        func acquire() async {
            if inUse < limit {
                inUse += 1
                return
            }
            await withCheckedContinuation { waiters.append($0) }
        }

        func release() {
            if waiters.isEmpty { inUse -= 1 } else { waiters.removeFirst().resume() }
        }
    }
}

extension Trait where Self == ConformanceScope {
    /// Applied to every conformance suite: see `ConformanceScope`.
    static var conformance: Self { ConformanceScope() }
}
