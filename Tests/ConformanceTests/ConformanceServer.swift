import Foundation
import RunnelTesting
import Synchronization
import Testing

/// The one `runnel` process every conformance test talks to, started lazily on first use
/// (Swift Testing has no `beforeAll`). Its data lives in a temporary directory; the process
/// is killed when the test process exits.
enum ConformanceServer {
    /// The long-poll timeout the server runs with: well under the suite's 5 s per test
    /// (conformance §2.2).
    static let longPollTimeoutSeconds = 1

    private static let started = Task<RunnelProcess, any Error> {
        let directory = RunnelProcess.temporaryDirectory("conformance")
        let process = RunnelProcess(
            dataDirectory: directory, arguments: ["--long-poll-timeout", String(longPollTimeoutSeconds)])
        try await process.start()
        running.withLock { $0 = process }
        atexit {
            ConformanceServer.running.withLock { $0?.kill() }
        }
        return process
    }

    /// Set once the process is up, so the `atexit` hook can kill it.
    private static let running = Mutex<RunnelProcess?>(nil)

    /// The loopback port of the shared server, starting it on first call.
    static func port() async throws -> Int {
        try await started.value.port
    }
}

/// A pool of keep-alive connections to the shared server. `HTTPTestClient` carries one
/// request at a time, so concurrent requests each borrow their own connection.
actor ConnectionPool {
    static let shared = ConnectionPool()
    private var idle: [HTTPTestClient] = []

    private func take() -> HTTPTestClient? { idle.popLast() }

    private func give(_ client: HTTPTestClient) async {
        if idle.count < 64 { idle.append(client) } else { await client.close() }
    }

    /// Sends one request on a pooled connection. A reused connection that the server has
    /// closed fails before any response byte; only then is the request retried once.
    func request(
        _ method: String, _ path: String, headers: [(String, String)], body: [UInt8]?
    ) async throws -> HTTPTestClient.Response {
        if let client = take() {
            do {
                let response = try await client.request(method, path, headers: headers, body: body)
                await give(client)
                return response
            } catch {
                await client.close()
                try Task.checkCancellation()
            }
        }
        let client = try await HTTPTestClient(port: ConformanceServer.port())
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
    static let limit = 12
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
