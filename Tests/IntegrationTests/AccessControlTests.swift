import Foundation
import RunnelTesting
import Testing

/// Credentials and scopes over real HTTP (docs/access-control.md): a node with a bootstrap
/// admin token refuses every route but the health checks without a valid bearer token, and a
/// key's scopes decide, per bucket, what it may read, write and administer.
@Suite struct AccessControlTests {
    static let adminToken = "admin-token-for-tests-0123456789abcdefghij"

    static func tokenFile() throws -> String {
        let path = RunnelProcess.temporaryDirectory("token") + ".txt"
        try (adminToken + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func errorCode(_ response: HTTPTestClient.Response) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return (object?["error"] as? [String: Any])?["code"] as? String
    }

    static func bearer(_ token: String) -> [(String, String)] { [("Authorization", "Bearer \(token)")] }

    /// Creates a key through `client` (with the admin token) and returns its token.
    static func createKey(_ client: HTTPTestClient, scopes: [String], name: String = "test") async throws -> (id: String, token: String) {
        let body = "{\"name\":\"\(name)\",\"scopes\":[\(scopes.map { "\"\($0)\"" }.joined(separator: ","))]}"
        let r = try await client.request("POST", "/admin/v1/keys", headers: bearer(adminToken) + [("Content-Type", "application/json")],
                                         body: Array(body.utf8))
        #expect(r.status == 201, "\(r.text)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
        return (try #require(doc["id"] as? String), try #require(doc["token"] as? String))
    }

    @Test func everyRouteNeedsTheRightScope() async throws {
        let file = try Self.tokenFile()
        let dir = RunnelProcess.temporaryDirectory("auth")
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: file) }
        let node = RunnelProcess(dataDirectory: dir, arguments: ["--admin-token-file", file])
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        let admin = Self.bearer(Self.adminToken)

        // Open: health checks and preflights. Everything else: 401 with WWW-Authenticate.
        #expect(try await client.request("GET", "/healthz").status == 200)
        #expect(try await client.request("GET", "/readyz").status == 200)
        #expect(try await client.request("OPTIONS", "/ds/_default/x").status == 204)
        for (method, path) in [("GET", "/ds/_default/x"), ("PUT", "/v1/stream/x"), ("GET", "/streams/x"), ("GET", "/metrics"),
                               ("GET", "/admin/v1/cluster"), ("POST", "/admin/v1/cluster/transfer-leader"), ("GET", "/ds/_default")] {
            let r = try await client.request(method, path)
            #expect(r.status == 401 && Self.errorCode(r) == "unauthorized", "\(method) \(path): \(r.status)")
            #expect(r.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
        }
        for header in ["Bearer nope", "Basic YWRtaW46YWRtaW4=", "Bearer rnl_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                       "Bearer " + Self.adminToken + "x", "bearer"] {
            let r = try await client.request("GET", "/ds/_default/x", headers: [("Authorization", header)])
            #expect(r.status == 401 && Self.errorCode(r) == "invalid_token", "\(header): \(r.status) \(r.text)")
        }

        // The admin token can do everything; it makes the keys.
        #expect(try await client.request("PUT", "/ds/ta", headers: admin).status == 201)
        #expect(try await client.request("PUT", "/ds/tb", headers: admin).status == 201)
        let reader = try await Self.createKey(client, scopes: ["read:ta"])
        let writer = try await Self.createKey(client, scopes: ["write:ta/*", "read:t*"])
        let operatorKey = try await Self.createKey(client, scopes: ["admin"])
        let everything = try await Self.createKey(client, scopes: ["read", "write"])

        let text = [("Content-Type", "text/plain")]
        // Writes need write on the bucket, reads read; all three families name buckets alike.
        let cases: [(String, String, (id: String, token: String), Int)] = [
            ("PUT", "/ds/ta/s", writer, 201),
            ("PUT", "/ds/ta/s2", reader, 403),
            ("POST", "/ds/ta/s", writer, 204),
            ("POST", "/v1/stream/ta/s", reader, 403),
            ("GET", "/ds/ta/s?offset=-1", reader, 200),
            ("GET", "/v1/stream/ta/s?offset=-1", reader, 200),
            ("HEAD", "/ds/ta/s", reader, 200),
            ("GET", "/ds/ta/s?offset=-1", writer, 200),
            ("GET", "/ds/ta/streams", reader, 200),
            ("GET", "/ds/tb", reader, 403),
            ("GET", "/ds/tb", writer, 200),
            ("PUT", "/ds/tb/s", writer, 403),
            ("PUT", "/streams/d", writer, 403),
            ("PUT", "/streams/d", everything, 201),
            ("GET", "/streams/d?offset=-1", reader, 403),
            ("GET", "/admin/v1/cluster", everything, 403),
            ("GET", "/admin/v1/cluster", operatorKey, 200),
            ("GET", "/metrics", reader, 403),
            ("GET", "/metrics", operatorKey, 200),
            ("GET", "/ds/ta/s?offset=-1", operatorKey, 403),
            ("DELETE", "/ds/ta/s", reader, 403),
        ]
        for (method, path, key, status) in cases {
            let r = try await client.request(method, path, headers: Self.bearer(key.token) + text, body: method == "POST" ? Array("x".utf8) : [])
            #expect(r.status == status, "\(method) \(path) with \(key.id): \(r.status) \(r.text)")
            if status == 403 {
                #expect(Self.errorCode(r) == "forbidden" && r.header("WWW-Authenticate")?.contains("insufficient_scope") == true)
            }
        }
        // A fork needs read on its source's bucket as well as write on its own.
        #expect(try await client.request("PUT", "/ds/tb/s", headers: admin + text).status == 201)
        let onlyTA = try await Self.createKey(client, scopes: ["write:ta", "read:ta"])
        #expect(try await client.request("PUT", "/ds/ta/f", headers: Self.bearer(onlyTA.token) + [("Stream-Forked-From", "/ds/tb/s")]).status == 403)
        #expect(try await client.request("PUT", "/ds/ta/f", headers: Self.bearer(writer.token) + [("Stream-Forked-From", "/ds/tb/s")]).status == 201)

        // Key management: the list never shows a secret; revocation is immediate.
        let list = try await client.request("GET", "/admin/v1/keys", headers: Self.bearer(operatorKey.token))
        #expect(list.status == 200 && list.text.contains(reader.id) && !list.text.contains(reader.token))
        #expect(list.text.contains("\"read:ta\"") && list.text.contains("\"write:ta\""))
        #expect(try await client.request("DELETE", "/admin/v1/keys/\(reader.id)", headers: Self.bearer(operatorKey.token)).status == 204)
        let revoked = try await client.request("GET", "/ds/ta/s?offset=-1", headers: Self.bearer(reader.token))
        #expect(revoked.status == 401 && Self.errorCode(revoked) == "invalid_token")
        for (body, code) in [("{\"scopes\":[]}", "invalid_scope"), ("{\"scopes\":[\"fly\"]}", "invalid_scope"),
                             ("{\"scopes\":[\"admin:ta\"]}", "invalid_scope"), ("{\"scopes\":[\"read:TA\"]}", "invalid_scope"), ("[]", "invalid_body")] {
            let r = try await client.request("POST", "/admin/v1/keys", headers: admin, body: Array(body.utf8))
            #expect(r.status == 400 && Self.errorCode(r) == code, "\(body): \(r.text)")
        }
        #expect(try await client.request("DELETE", "/admin/v1/keys/\(reader.id)", headers: admin).status == 404)
        #expect(try await client.request("DELETE", "/admin/v1/keys/XYZ", headers: admin).status == 400)
        await client.close()
    }

    @Test func aKeyRevokedOnOneNodeIsRefusedOnTheOthers() async throws {
        let file = try Self.tokenFile()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let cluster = try RunnelCluster(size: 3, name: "auth", arguments: ["--admin-token-file", file])
        cluster.adminToken = Self.adminToken
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let first = try await HTTPTestClient(port: cluster.nodes[(leader + 1) % 3].port)
        let key = try await Self.createKey(first, scopes: ["read", "write"])
        #expect(try await first.request("PUT", "/v1/stream/k", headers: Self.bearer(key.token)).status == 201)
        // Every node knows the key once it has applied the entry that created it.
        try await cluster.waitForConvergence()
        for node in cluster.nodes {
            let c = try await HTTPTestClient(port: node.port)
            #expect(try await c.request("GET", "/v1/stream/k?offset=-1", headers: Self.bearer(key.token)).status == 200)
            await c.close()
        }
        #expect(try await first.request("DELETE", "/admin/v1/keys/\(key.id)", headers: Self.bearer(Self.adminToken)).status == 204)
        await first.close()
        // ...and refuses it once it has applied the revocation: one commit.
        try await cluster.waitForConvergence()
        for node in cluster.nodes {
            let c = try await HTTPTestClient(port: node.port)
            let r = try await c.request("GET", "/v1/stream/k?offset=-1&consistency=local", headers: Self.bearer(key.token))
            #expect(r.status == 401, "node \(node.port): \(r.status)")
            await c.close()
        }
    }
}

/// Safe by default (docs/access-control.md): a node that would listen beyond loopback with no
/// credentials refuses to start, and says how to fix it either way.
@Suite struct PublicBindTests {
    /// Runs `runnel serve ARGS` and returns its exit status and standard error, or nil if it
    /// is still running after `timeout` (it is then stopped).
    static func serve(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(20)) async throws -> (status: Int32, stderr: String)? {
        let dir = RunnelProcess.temporaryDirectory("bind")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RunnelProcess.binaryPath)
        process.arguments = ["serve", "--data-dir", dir] + arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("RUNNEL_") }.merging(environment) { $1 }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            return nil
        }
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, text)
    }

    @Test func aPublicAddressWithoutCredentialsIsRefused() async throws {
        let refused = try #require(try await Self.serve(["--listen", "0.0.0.0:0"]), "the node started")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--admin-token-file") && refused.stderr.contains("--insecure-no-auth"), "\(refused.stderr)")
    }

    @Test func theRefusalCanBeOverriddenOrAvoided() async throws {
        // Each of these starts (and is stopped after two seconds of running).
        #expect(try await Self.serve(["--listen", "0.0.0.0:0", "--insecure-no-auth"], timeout: .seconds(2)) == nil)
        #expect(try await Self.serve(["--listen", "0.0.0.0:0"], environment: ["RUNNEL_INSECURE_NO_AUTH": "1"], timeout: .seconds(2)) == nil)
        #expect(try await Self.serve(["--listen", "0.0.0.0:0"], environment: ["RUNNEL_ADMIN_TOKEN": AccessControlTests.adminToken],
                                     timeout: .seconds(2)) == nil)
        // A loopback node stays open without anything.
        #expect(try await Self.serve(["--listen", "127.0.0.1:0"], timeout: .seconds(2)) == nil)
        // A short token is refused.
        let short = try #require(try await Self.serve(["--listen", "127.0.0.1:0"], environment: ["RUNNEL_ADMIN_TOKEN": "short"]))
        #expect(short.status != 0 && short.stderr.contains("at least 32"), "\(short.stderr)")
    }
}

/// `--cors-origins`: only listed origins get the stream API's CORS headers; admin routes none.
@Suite struct CORSOriginTests {
    @Test func onlyListedOriginsAreAllowed() async throws {
        let dir = RunnelProcess.temporaryDirectory("cors")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir, arguments: ["--cors-origins", "https://app.example.com, http://localhost:3000"])
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        #expect(try await client.request("PUT", "/v1/stream/c").status == 201)
        let allowed = try await client.request("GET", "/v1/stream/c?offset=-1", headers: [("Origin", "https://app.example.com")])
        #expect(allowed.header("Access-Control-Allow-Origin") == "https://app.example.com")
        #expect(allowed.header("Vary")?.contains("Origin") == true)
        let preflight = try await client.request("OPTIONS", "/v1/stream/c", headers: [("Origin", "http://localhost:3000")])
        #expect(preflight.header("Access-Control-Allow-Origin") == "http://localhost:3000")
        let other = try await client.request("GET", "/v1/stream/c?offset=-1", headers: [("Origin", "https://evil.example")])
        #expect(other.status == 200 && other.header("Access-Control-Allow-Origin") == nil)
        let admin = try await client.request("GET", "/admin/v1/cluster", headers: [("Origin", "https://app.example.com")])
        #expect(admin.header("Access-Control-Allow-Origin") == nil)
        await client.close()
    }
}
