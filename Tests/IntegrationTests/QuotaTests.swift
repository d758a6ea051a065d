import Foundation
import JWTKit
import RunnelTesting
import Testing

/// Rates over real HTTP (docs/access-control.md "Quotas"): a key's request and byte rates
/// answer 429 with `Retry-After` once used up and recover when the rate has refilled; other
/// credentials are not touched; an address that keeps failing authentication gets 429 for
/// JWTs that would need a signature check.
@Suite struct QuotaTests {
    typealias Access = AccessControlTests

    /// Creates a key with `extra` JSON members (rates) and returns its token.
    static func createKey(_ client: HTTPTestClient, scopes: [String], extra: String) async throws -> String {
        let body = "{\"scopes\":[\(scopes.map { "\"\($0)\"" }.joined(separator: ","))]\(extra)}"
        let r = try await client.request("POST", "/admin/v1/keys", headers: Access.bearer(Access.adminToken) + [("Content-Type", "application/json")],
                                         body: Array(body.utf8))
        #expect(r.status == 201, "\(r.text)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
        return try #require(doc["token"] as? String)
    }

    /// Sends `request` until it answers other than 429, within `timeout`; the first other status.
    static func untilServed(within timeout: Duration, _ request: () async throws -> HTTPTestClient.Response) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let r = try await request()
            if r.status != 429 { return r.status }
            try await Task.sleep(for: .milliseconds(100))
        }
        return 429
    }

    /// `count` requests sent at once, each on a connection of its own.
    static func atOnce(_ count: Int, port: Int, _ request: @escaping @Sendable (HTTPTestClient) async throws -> HTTPTestClient.Response)
        async throws -> [HTTPTestClient.Response] {
        var clients: [HTTPTestClient] = []
        for _ in 0..<count { clients.append(try await HTTPTestClient(port: port)) }
        return try await withThrowingTaskGroup(of: HTTPTestClient.Response.self) { group in
            for client in clients { group.addTask { try await request(client) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func requestAndByteRatesAnswer429AndRecover() async throws {
        let dir = RunnelProcess.temporaryDirectory("quota")
        let file = try Access.tokenFile()
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: file) }
        // Keys without rates of their own get 1 request a second from the node. The rates
        // here are low so that a loaded machine (slow requests) cannot refill them mid-test.
        let node = RunnelProcess(dataDirectory: dir, arguments: ["--admin-token-file", file, "--key-requests-per-second", "1"])
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        let admin = Access.bearer(Access.adminToken)
        let text = [("Content-Type", "text/plain")]
        #expect(try await client.request("PUT", "/ds/q", headers: admin).status == 201)
        #expect(try await client.request("PUT", "/ds/q/s", headers: admin + text).status == 201)

        // Bad rates are refused and create nothing.
        for extra in [",\"requests_per_second\":0", ",\"requests_per_second\":-1", ",\"bytes_per_second\":\"x\"",
                      ",\"requests_per_second\":1000001", ",\"bytes_per_second\":1099511627777"] {
            let body = "{\"scopes\":[\"read\"]\(extra)}"
            let r = try await client.request("POST", "/admin/v1/keys", headers: admin + [("Content-Type", "application/json")], body: Array(body.utf8))
            #expect(r.status == 400, "\(extra): \(r.status) \(r.text)")
        }
        let listed = try await client.request("GET", "/admin/v1/keys", headers: admin)
        #expect(!listed.text.contains("\"id\""), "\(listed.text)")

        // A key of its own rate, 1 a second, sends 8 appends at once on 8 connections: at most
        // 1 + (seconds the burst takes) can pass, whatever the machine's load; the rest are 429
        // and append nothing.
        let fast = try await Self.createKey(client, scopes: ["read:q", "write:q"], extra: ",\"requests_per_second\":1")
        let byDefault = try await Self.createKey(client, scopes: ["read:q"], extra: "")
        let started = ContinuousClock.now
        let answers = try await Self.atOnce(8, port: node.port) { client in
            try await client.request("POST", "/ds/q/s", headers: Access.bearer(fast) + text, body: Array("x".utf8))
        }
        let seconds = Int((ContinuousClock.now - started).components.seconds)
        let passed = answers.filter { $0.status == 204 }.count
        let limited = answers.filter { $0.status == 429 }
        #expect(passed >= 1 && passed <= 1 + seconds && passed + limited.count == 8, "\(answers.map(\.status))")
        #expect(limited.allSatisfy { Access.errorCode($0) == "request_rate_exceeded" && $0.header("Retry-After") == "1" })
        // The refused appends changed nothing.
        let read = try await client.request("GET", "/ds/q/s?offset=-1", headers: admin)
        #expect(read.text == String(repeating: "x", count: passed), "\(read.text)")
        // Other credentials are not touched; the key recovers once its rate has refilled.
        #expect(try await client.request("GET", "/ds/q/s?offset=-1", headers: admin).status == 200)
        #expect(try await Self.untilServed(within: .seconds(10)) {
            try await client.request("GET", "/ds/q/s?offset=-1", headers: Access.bearer(fast))
        } == 200)

        // The node's default applies to a key without a rate of its own: one a second.
        let heads = try await Self.atOnce(6, port: node.port) { client in
            try await client.request("HEAD", "/ds/q/s", headers: Access.bearer(byDefault))
        }
        #expect(heads.contains { $0.status == 200 } && heads.filter { $0.status == 429 }.count >= 2, "\(heads.map(\.status))")

        // Bytes: 1,000 a second. A 5,000-byte append passes (a request is not cut short) and
        // puts the key 4 seconds in debt; its next requests are 429 until the debt is repaid.
        let bytes = try await Self.createKey(client, scopes: ["read:q", "write:q"], extra: ",\"bytes_per_second\":1000,\"requests_per_second\":1000")
        let big = try await client.request("POST", "/ds/q/s", headers: Access.bearer(bytes) + text, body: Array(repeating: UInt8(ascii: "b"), count: 5000))
        #expect(big.status == 204)
        let owed = try await client.request("HEAD", "/ds/q/s", headers: Access.bearer(bytes))
        #expect(owed.status == 429 && owed.header("Retry-After").flatMap(Int.init).map { $0 >= 1 && $0 <= 4 } == true,
                "\(owed.status) \(owed.header("Retry-After") ?? "-")")
        #expect(try await Self.untilServed(within: .seconds(15)) {
            try await client.request("HEAD", "/ds/q/s", headers: Access.bearer(bytes))
        } == 200)
        // Response bytes count too: reading the stream's 5,000-odd bytes puts it in debt again.
        #expect(try await client.request("GET", "/ds/q/s?offset=-1", headers: Access.bearer(bytes)).status == 200)
        let afterRead = try await client.request("GET", "/ds/q", headers: Access.bearer(bytes))
        #expect(afterRead.status == 429 && Access.errorCode(afterRead) == "byte_rate_exceeded", "\(afterRead.status) \(afterRead.text)")

        // Counted by kind of credential and outcome, nothing per key.
        let metrics = try await client.request("GET", "/metrics", headers: admin).text
        #expect(metrics.contains("runnel_auth_requests_total{credential=\"api_key\",outcome=\"rate_limited\"}"))
        #expect(!metrics.contains("key:"))
    }

    @Test func failedAuthenticationsLimitUncheckedJWTs() async throws {
        let dir = RunnelProcess.temporaryDirectory("authfail")
        let file = try Access.tokenFile()
        let secretFile = dir + "-secret"
        try (JWTTests.secret + "\n").write(toFile: secretFile, atomically: true, encoding: .utf8)
        defer {
            for path in [dir, file, secretFile] { try? FileManager.default.removeItem(atPath: path) }
        }
        // One failure every 2 seconds, bursts of 5: slow enough that a loaded machine cannot
        // refill the budget between two requests.
        let node = RunnelProcess(dataDirectory: dir, arguments: [
            "--admin-token-file", file, "--jwt-hs256-secret-file", secretFile, "--auth-failures-per-second", "0.5",
        ])
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        let admin = Access.bearer(Access.adminToken)
        #expect(try await client.request("PUT", "/ds/ta", headers: admin).status == 201)
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: JWTTests.secret), digestAlgorithm: .sha256)
        let good = try await keys.sign(JWTTests.claims(iss: nil, aud: nil))
        let other = try await keys.sign(JWTTests.claims(scope: "read:ta", iss: nil, aud: nil))
        let key = try await Self.createKey(client, scopes: ["read:ta"], extra: "")

        // A verified token is cached before the failures start.
        #expect(try await client.request("GET", "/ds/ta", headers: Access.bearer(good)).status == 200)
        let foreign = try await { () async throws -> String in
            let wrong = JWTKeyCollection()
            await wrong.add(hmac: HMACKey(from: String(JWTTests.secret.reversed())), digestAlgorithm: .sha256)
            return try await wrong.sign(JWTTests.claims(iss: nil, aud: nil))
        }()
        var answers: [HTTPTestClient.Response] = []
        while answers.count < 30, answers.last?.status != 429 {
            answers.append(try await client.request("GET", "/ds/ta", headers: Access.bearer(foreign)))
        }
        let statuses = answers.map(\.status)
        #expect(statuses.prefix(5).allSatisfy { $0 == 401 } && statuses.last == 429, "\(statuses)")
        let refused = try #require(answers.last)
        #expect(Access.errorCode(refused) == "too_many_auth_failures" && refused.header("Retry-After") != nil, "\(refused.text)")
        // A new token from the address is not checked now (unless the budget refilled in
        // between, on a very slow machine); cached ones and API keys still serve.
        let other1 = try await client.request("GET", "/ds/ta", headers: Access.bearer(other))
        #expect(other1.status == 429 || other1.status == 200, "\(other1.status)")
        #expect(try await client.request("GET", "/ds/ta", headers: Access.bearer(good)).status == 200)
        #expect(try await client.request("GET", "/ds/ta", headers: Access.bearer(key)).status == 200)
        #expect(try await client.request("GET", "/ds/ta", headers: admin).status == 200)
        // The budget refills: the new token is checked and served again.
        #expect(try await Self.untilServed(within: .seconds(15)) {
            try await client.request("GET", "/ds/ta", headers: Access.bearer(other))
        } == 200)
        let metrics = try await client.request("GET", "/metrics", headers: admin).text
        #expect(metrics.contains("runnel_auth_requests_total{credential=\"jwt\",outcome=\"unauthenticated\"}"))
    }
}
