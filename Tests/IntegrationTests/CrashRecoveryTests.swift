import Foundation
import RunnelTesting
import Synchronization
import Testing

/// Shared, lock-protected test state.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// A real `runnel` process killed with SIGKILL under concurrent appends loses nothing it
/// acknowledged and duplicates nothing (design.md "The promise to users" 1).
@Suite(.serialized) struct CrashRecoveryTests {
    static let streams = 4
    static let clients = 16

    struct Ack: Sendable {
        var client: Int
        var n: Int
        var stream: Int
        /// `Stream-Next-Offset` of the acknowledgement: acknowledgement order per stream.
        var nextOffset: String
    }

    @Test func sigkillUnderConcurrentAppendsLosesNoAcknowledgedAppend() async throws {
        let dir = RunnelProcess.temporaryDirectory("crash")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir)
        try await node.start()

        let setup = try await HTTPTestClient(port: node.port)
        for s in 0..<Self.streams {
            let r = try await setup.request("PUT", "/v1/stream/crash-\(s)", headers: [("Content-Type", "application/json")])
            #expect(r.status == 201)
        }
        await setup.close()

        // 16 clients append as fast as they can; the node is killed while they do.
        let acks = Locked([Ack]())
        let port = node.port
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<Self.clients {
                group.addTask {
                    let http = try await HTTPTestClient(port: port)
                    var n = 0
                    while true {
                        let stream = (client + n) % Self.streams
                        let body = Array("{\"c\":\(client),\"n\":\(n)}".utf8)
                        let response: HTTPTestClient.Response
                        do {
                            response = try await http.request(
                                "POST", "/v1/stream/crash-\(stream)", headers: [("Content-Type", "application/json")], body: body)
                        } catch {
                            return  // the node died mid-request: this append is unacknowledged
                        }
                        guard response.status == 204, let next = response.header("Stream-Next-Offset") else {
                            Issue.record("append answered \(response.status): \(response.text)")
                            return
                        }
                        acks.withLock { $0.append(Ack(client: client, n: n, stream: stream, nextOffset: next)) }
                        n += 1
                    }
                }
            }
            // Kill once enough appends are acknowledged (with a deadline, never a bare sleep).
            let deadline = ContinuousClock.now + .seconds(60)
            while acks.withLock({ $0.count }) < 400 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            node.kill()
            try await group.waitForAll()
        }
        let acknowledged = acks.withLock { $0 }
        #expect(acknowledged.count >= 400)

        let restarted = RunnelProcess(dataDirectory: dir)
        try await restarted.start()
        defer { restarted.terminate() }
        let reader = try await HTTPTestClient(port: restarted.port)
        for s in 0..<Self.streams {
            let r = try await reader.request("GET", "/v1/stream/crash-\(s)?offset=-1")
            #expect(r.status == 200)
            let messages = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [[String: Int]])
            var position: [String: Int] = [:]
            for (i, m) in messages.enumerated() {
                let key = "\(m["c"]!)-\(m["n"]!)"
                #expect(position[key] == nil, "duplicate message \(key) in stream \(s)")
                position[key] = i
            }
            let acked = acknowledged.filter { $0.stream == s }.sorted { $0.nextOffset < $1.nextOffset }
            var last = -1
            for ack in acked {
                let key = "\(ack.client)-\(ack.n)"
                guard let at = position[key] else {
                    Issue.record("acknowledged append \(key) lost from stream \(s)")
                    continue
                }
                #expect(at > last, "append \(key) out of acknowledgement order in stream \(s)")
                last = at
            }
        }
        await reader.close()
    }
}
