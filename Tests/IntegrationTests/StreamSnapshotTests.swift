import Foundation
import NIOCore
import RunnelTesting
import Synchronization
import Testing

/// Stream snapshots, `/bootstrap` and retention over real HTTP (api.md §2,
/// docs/stream-snapshots.md), in the style of the conformance suite: every rule, and every
/// malformed input answered with a 4xx that changes nothing.
@Suite struct StreamSnapshotTests {
    static let ds = "/ds/_default"

    private func withNode(_ arguments: [String] = [], _ body: (HTTPTestClient, RunnelProcess) async throws -> Void) async throws {
        try await RunnelProcess.withNode("snap", arguments: arguments, body)
    }

    static func errorCode(_ response: HTTPTestClient.Response) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return (object?["error"] as? [String: Any])?["code"] as? String
    }

    static func offset(_ position: Int) -> String { String(format: "0000000000000000_%016d", position) }

    /// Creates a text stream holding `messages` (one append each); returns each append's end offset.
    @discardableResult
    static func textStream(_ client: HTTPTestClient, _ path: String, _ messages: [String]) async throws -> [String] {
        #expect(try await client.request("PUT", path, headers: [("Content-Type", "text/plain")]).status == 201)
        var ends: [String] = []
        for message in messages {
            let r = try await client.request("POST", path, headers: [("Content-Type", "text/plain")], body: Array(message.utf8))
            #expect(r.status == 204)
            ends.append(try #require(r.header("Stream-Next-Offset")))
        }
        return ends
    }

    static func publish(_ client: HTTPTestClient, _ path: String, at offset: String, _ bytes: [UInt8],
                        contentType: String = "application/x-state", headers: [(String, String)] = []) async throws -> HTTPTestClient.Response {
        try await client.request("PUT", "\(path)/snapshot/\(offset)", headers: [("Content-Type", contentType)] + headers, body: bytes)
    }

    // MARK: Publish, fetch, delete

    @Test func publishFetchRedirectAndDeleteFollowTheRules() async throws {
        try await withNode { client, _ in
            let s = "\(Self.ds)/doc"
            let ends = try await Self.textStream(client, s, ["one", "two", "three"])
            let state = Array("state after two".utf8)

            let published = try await Self.publish(client, s, at: ends[1], state)
            #expect(published.status == 204)
            #expect(published.header("Stream-Snapshot-Offset") == ends[1])
            let digest = try #require(published.header("Stream-Snapshot-Digest"))
            #expect(digest.count == 64 && digest.allSatisfy { $0.isHexDigit && !$0.isUppercase })
            // SHA-256 of the bytes, checked against a known vector.
            let known = try await Self.publish(client, s, at: ends[0], Array("abc".utf8))
            #expect(known.header("Stream-Snapshot-Digest") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")

            // Idempotent; other bytes at the same offset conflict.
            let again = try await Self.publish(client, s, at: ends[1], state)
            #expect(again.status == 204 && again.header("Stream-Snapshot-Digest") == digest)
            let conflict = try await Self.publish(client, s, at: ends[1], Array("other".utf8))
            #expect(conflict.status == 409 && Self.errorCode(conflict) == "snapshot_conflict")
            #expect(conflict.header("Stream-Snapshot-Digest") == digest)

            // The latest is the one at the highest offset, whatever the order of publication.
            let redirect = try await client.request("GET", "\(s)/snapshot")
            #expect(redirect.status == 307)
            #expect(redirect.header("Location") == "\(s)/snapshot/\(ends[1])")
            let fetched = try await client.request("GET", "\(s)/snapshot/\(ends[1])")
            #expect(fetched.status == 200 && fetched.body == state)
            #expect(fetched.header("Content-Type") == "application/x-state")
            #expect(fetched.header("Stream-Snapshot-Offset") == ends[1])
            let etag = try #require(fetched.header("ETag"))
            #expect(try await client.request("GET", "\(s)/snapshot/\(ends[1])", headers: [("If-None-Match", etag)]).status == 304)
            #expect(try await client.request("HEAD", s).header("Stream-Snapshot-Offset") == ends[1])

            // Conditional publication on the latest digest.
            let stale = try await Self.publish(client, s, at: ends[2], Array("s3".utf8),
                                               headers: [("Stream-Snapshot-Match", String(repeating: "0", count: 64))])
            #expect(stale.status == 412 && Self.errorCode(stale) == "precondition_failed")
            #expect(stale.header("Stream-Snapshot-Digest") == digest)
            let matched = try await Self.publish(client, s, at: ends[2], Array("s3".utf8), headers: [("Stream-Snapshot-Match", digest)])
            #expect(matched.status == 204)

            // Delete rules: not the latest; an older one goes; then it is 404.
            let latest = try await client.request("DELETE", "\(s)/snapshot/\(ends[2])")
            #expect(latest.status == 409 && Self.errorCode(latest) == "snapshot_is_latest")
            #expect(try await client.request("DELETE", "\(s)/snapshot/\(ends[0])").status == 204)
            let gone = try await client.request("GET", "\(s)/snapshot/\(ends[0])")
            #expect(gone.status == 404 && Self.errorCode(gone) == "snapshot_not_found")
            #expect(try await client.request("DELETE", "\(s)/snapshot/\(ends[0])").status == 404)

            // A stream without snapshots.
            try await Self.textStream(client, "\(Self.ds)/empty", [])
            let none = try await client.request("GET", "\(Self.ds)/empty/snapshot")
            #expect(none.status == 404 && Self.errorCode(none) == "snapshot_not_found")
        }
    }

    @Test func badInputGetsA4xxAndChangesNothing() async throws {
        try await withNode(["--max-body-bytes", "4096"]) { client, _ in
            let s = "\(Self.ds)/bad"
            let ends = try await Self.textStream(client, s, ["aaaa", "bbbb"])
            let good = try await Self.publish(client, s, at: ends[0], Array("good".utf8))
            #expect(good.status == 204)
            let cases: [(String, String, [(String, String)], [UInt8], Int, String)] = [
                ("PUT", "\(s)/snapshot/-1", [], [1], 400, "invalid_offset"),
                ("PUT", "\(s)/snapshot/now", [], [1], 400, "invalid_offset"),
                ("PUT", "\(s)/snapshot/abc", [], [1], 400, "invalid_offset"),
                ("PUT", "\(s)/snapshot/0_", [], [1], 400, "invalid_offset"),
                ("PUT", "\(s)/snapshot/1_0", [], [1], 400, "invalid_offset"),
                ("PUT", "\(s)/snapshot/0000000000000000_99999999999999999999", [], [1], 400, "invalid_offset"),
                ("PUT", "\(s)/snapshot/\(Self.offset(2))", [], [1], 400, "offset_not_message_boundary"),
                ("PUT", "\(s)/snapshot/\(Self.offset(9))", [], [1], 409, "snapshot_offset_beyond_tail"),
                ("PUT", "\(s)/snapshot/\(ends[1])", [("Stream-Snapshot-Match", "xyz")], [1], 400, "invalid_snapshot_digest"),
                ("PUT", "\(s)/snapshot/\(ends[1])", [("Stream-Snapshot-Match", String(repeating: "g", count: 64))], [1], 400, "invalid_snapshot_digest"),
                ("PUT", "\(s)/snapshot/\(ends[1])", [("Content-Type", "")], [1], 400, "invalid_content_type"),
                ("PUT", "\(s)/snapshot/\(ends[1])", [("Content-Type", String(repeating: "t", count: 300))], [1], 400, "invalid_content_type"),
                ("PUT", "\(s)/snapshot/\(ends[1])", [], Array(repeating: 7, count: 5000), 413, "body_too_large"),
                ("PUT", "\(s)/retention/\(Self.offset(2))", [], [], 400, "offset_not_message_boundary"),
                ("PUT", "\(s)/retention/\(ends[1])", [], [], 409, "retention_beyond_snapshot"),
                ("PUT", "\(s)/retention/sometimes", [], [], 400, "invalid_offset"),
                ("GET", "\(s)/snapshot/xyz", [], [], 400, "invalid_offset"),
                ("DELETE", "\(s)/snapshot/\(Self.offset(1))", [], [], 404, "snapshot_not_found"),
                ("GET", "\(s)/bootstrap?live=long-poll", [], [], 400, "invalid_live"),
                ("PUT", "\(Self.ds)/nosuch/snapshot/\(Self.offset(0))", [], [1], 404, "stream_not_found"),
                ("GET", "\(Self.ds)/nosuch/bootstrap", [], [], 404, "stream_not_found"),
            ]
            for (method, path, headers, body, status, code) in cases {
                let r = try await client.request(method, path, headers: headers, body: body)
                #expect(r.status == status && Self.errorCode(r) == code, "\(method) \(path) \(headers): \(r.status) \(r.text)")
            }
            // Methods a sub-resource does not answer.
            #expect(try await client.request("POST", "\(s)/snapshot/\(ends[0])", body: [1]).status == 405)
            #expect(try await client.request("GET", "\(s)/retention/\(ends[0])").status == 405)
            #expect(try await client.request("PUT", "\(s)/bootstrap").status == 405)
            #expect(try await client.request("GET", "\(s)/snapshot/\(ends[0])/extra").status == 400)
            // Nothing changed: the one snapshot, no retention, every byte readable.
            #expect(try await client.request("GET", "\(s)/snapshot").header("Location") == "\(s)/snapshot/\(ends[0])")
            #expect(try await client.request("GET", "\(s)/snapshot/\(ends[0])").text == "good")
            let head = try await client.request("HEAD", s)
            #expect(head.header("Stream-Retained-Offset") == nil && head.header("Stream-Snapshot-Offset") == ends[0])
            #expect(try await client.request("GET", "\(s)?offset=-1").text == "aaaabbbb")
        }
    }

    // MARK: Bootstrap

    @Test func bootstrapOfByteAndJSONStreamsWithAndWithoutASnapshot() async throws {
        try await withNode(["--read-chunk-bytes", "8"]) { client, _ in
            // A byte stream without a snapshot: an empty first part, then every byte.
            let b = "\(Self.ds)/bytes"
            let ends = try await Self.textStream(client, b, ["hello ", "world ", "again"])
            var boot = try await client.request("GET", "\(b)/bootstrap")
            var parts = try Multipart.parse(boot)
            #expect(boot.status == 200)
            #expect(boot.header("Stream-Snapshot-Offset") == Self.offset(0))
            #expect(boot.header("Stream-Next-Offset") == ends[2] && boot.header("Stream-Up-To-Date") == "true")
            #expect(parts.first?.body == [] && parts.first?.headers["content-type"] == "application/octet-stream")
            #expect(parts.dropFirst().flatMap(\.body) == Array("hello world again".utf8))
            #expect(parts.count > 2, "8-byte read chunks make several message parts")
            #expect(parts.last?.headers["stream-next-offset"] == ends[2])

            // With a snapshot: the snapshot, then only what follows it.
            #expect(try await Self.publish(client, b, at: ends[1], Array("HW".utf8)).status == 204)
            #expect(try await client.request("POST", b, headers: [("Content-Type", "text/plain"), ("Stream-Closed", "true")]).status == 204)
            boot = try await client.request("GET", "\(b)/bootstrap")
            parts = try Multipart.parse(boot)
            #expect(boot.header("Stream-Snapshot-Offset") == ends[1] && boot.header("Stream-Closed") == "true")
            #expect(parts.first?.body == Array("HW".utf8) && parts.first?.headers["content-type"] == "application/x-state")
            #expect(parts.first?.headers["stream-snapshot-digest"]?.count == 64)
            #expect(parts.dropFirst().flatMap(\.body) == Array("again".utf8))
            #expect(parts.dropFirst().first?.headers["stream-offset"] == ends[1])

            // A JSON stream: each message part is a JSON array of whole messages.
            let j = "\(Self.ds)/json"
            #expect(try await client.request("PUT", j, headers: [("Content-Type", "application/json")]).status == 201)
            var jsonEnds: [String] = []
            for body in ["[{\"n\":1},{\"n\":2}]", "{\"n\":3}", "[{\"n\":4}]"] {
                let r = try await client.request("POST", j, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
                jsonEnds.append(try #require(r.header("Stream-Next-Offset")))
            }
            // `n:1` is one message of the first append: its end is a message boundary inside it.
            let afterOne = Self.offset(4 + 7)
            #expect(try await Self.publish(client, j, at: afterOne, Array("{\"sum\":1}".utf8), contentType: "application/json").status == 204)
            boot = try await client.request("GET", "\(j)/bootstrap")
            parts = try Multipart.parse(boot)
            #expect(parts.first?.body == Array("{\"sum\":1}".utf8))
            var messages: [Int] = []
            for part in parts.dropFirst() {
                #expect(part.headers["content-type"] == "application/json")
                let array = try #require(try JSONSerialization.jsonObject(with: Data(part.body)) as? [[String: Int]])
                messages += array.compactMap { $0["n"] }
            }
            #expect(messages == [2, 3, 4])
            #expect(boot.header("Stream-Next-Offset") == jsonEnds[2])
        }
    }

    @Test func bootstrapWithLiveSSEReceivesAppendsMadeAfterItStarted() async throws {
        try await withNode { client, node in
            let s = "\(Self.ds)/live"
            let ends = try await Self.textStream(client, s, ["before "])
            #expect(try await Self.publish(client, s, at: ends[0], Array("S0".utf8)).status == 204)
            #expect(try await client.request("POST", s, headers: [("Content-Type", "text/plain")], body: Array("after-snap ".utf8)).status == 204)

            let reader = try await HTTPTestClient(port: node.port)
            let writer = try await HTTPTestClient(port: node.port)
            let received = Mutex<[UInt8]>([])
            let appended = Mutex(false)
            let result = try await reader.stream("\(s)/bootstrap?live=sse", timeout: .seconds(15)) { buffer in
                received.withLock { $0 += Array(buffer.readableBytesView) }
                let text = String(decoding: received.withLock { $0 }, as: UTF8.self)
                if text.contains("text/event-stream") && text.contains("event: control") && !appended.withLock({ $0 }) {
                    appended.withLock { $0 = true }
                    Task {
                        _ = try? await writer.request("POST", s, headers: [("Content-Type", "text/plain")], body: Array("live-one".utf8))
                    }
                }
                return !text.contains("data:live-one")
            }
            #expect(result.status == 200)
            let text = String(decoding: received.withLock { $0 }, as: UTF8.self)
            #expect(text.contains("S0"))
            #expect(text.contains("after-snap"))
            #expect(!text.contains("before"), "the bytes before the snapshot are not sent")
            #expect(text.contains("data:live-one"), "an append made after the bootstrap started arrives on the same connection")
            await reader.close()
            await writer.close()
        }
    }

    // MARK: Retention and forks

    @Test func retentionAnswers410BelowAndServesAboveAndForksKeepTheirPrefix() async throws {
        try await withNode { client, _ in
            let s = "\(Self.ds)/ret"
            let ends = try await Self.textStream(client, s, ["aa", "bb", "cc", "dd"])
            // A fork taken before retention, at the second append.
            let fork = "\(Self.ds)/ret-fork"
            #expect(try await client.request("PUT", fork, headers: [("Stream-Forked-From", s), ("Stream-Fork-Offset", ends[1])]).status == 201)

            #expect(try await Self.publish(client, s, at: ends[2], Array("S".utf8)).status == 204)
            let retained = try await client.request("PUT", "\(s)/retention/\(ends[2])")
            #expect(retained.status == 204 && retained.header("Stream-Retained-Offset") == ends[2])
            #expect(try await client.request("PUT", "\(s)/retention/\(ends[0])").header("Stream-Retained-Offset") == ends[2],
                    "a lower offset is a no-op")

            for query in ["offset=-1", "offset=\(ends[0])", "offset=\(ends[1])&live=long-poll", "offset=-1&live=sse"] {
                let r = try await client.request("GET", "\(s)?\(query)")
                #expect(r.status == 410 && Self.errorCode(r) == "offset_gone", "\(query): \(r.status)")
                #expect(r.header("Stream-Retained-Offset") == ends[2])
                #expect(r.header("Link") == "<\(s)/bootstrap>; rel=\"bootstrap\"")
            }
            #expect(try await client.request("GET", "\(s)?offset=\(ends[2])").text == "dd")
            #expect(try await client.request("HEAD", s).header("Stream-Retained-Offset") == ends[2])
            let boot = try Multipart.parse(try await client.request("GET", "\(s)/bootstrap"))
            #expect(boot.first?.body == Array("S".utf8) && boot.dropFirst().flatMap(\.body) == Array("dd".utf8))

            // The fork still reads the prefix it inherited from the source.
            #expect(try await client.request("POST", fork, headers: [("Content-Type", "text/plain")], body: Array("ff".utf8)).status == 204)
            #expect(try await client.request("GET", "\(fork)?offset=-1").body == Array("aabbff".utf8))
            // A fork made after the retention cannot serve what its source no longer served.
            let late = "\(Self.ds)/ret-late"
            #expect(try await client.request("PUT", late, headers: [("Stream-Forked-From", s)]).status == 201)
            #expect(try await client.request("GET", "\(late)?offset=-1").status == 410)
            #expect(try await client.request("GET", "\(late)?offset=\(ends[2])").text == "dd")
            // Once the early fork is gone, the source still answers the same.
            #expect(try await client.request("DELETE", fork).status == 204)
            #expect(try await client.request("GET", "\(s)?offset=\(ends[2])").text == "dd")
            #expect(try await client.request("GET", "\(s)?offset=-1").status == 410)

            // Automatic retention follows each later snapshot.
            let auto = try await client.request("PUT", "\(s)/retention/auto")
            #expect(auto.status == 204 && auto.header("Stream-Retention") == "auto")
            #expect(try await client.request("POST", s, headers: [("Content-Type", "text/plain")], body: Array("ee".utf8)).status == 204)
            let tail = try #require(try await client.request("HEAD", s).header("Stream-Next-Offset"))
            #expect(try await Self.publish(client, s, at: tail, Array("S2".utf8)).status == 204)
            #expect(try await client.request("HEAD", s).header("Stream-Retained-Offset") == tail)
            #expect(try await client.request("GET", "\(s)?offset=\(ends[3])").status == 410)
            #expect(try await client.request("PUT", "\(s)/retention/manual").header("Stream-Retention") == "manual")
        }
    }

    // MARK: Size, restart, cluster

    @Test func aMultiChunkSnapshotSurvivesARestart() async throws {
        let dir = RunnelProcess.temporaryDirectory("snap-restart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir)
        try await node.start()
        var client = try await HTTPTestClient(port: node.port)
        let s = "\(Self.ds)/big"
        let ends = try await Self.textStream(client, s, ["x", "y"])
        // 3.5 MiB: four chunk entries.
        var state = [UInt8](repeating: 0, count: 3 * 1024 * 1024 + 512 * 1024)
        for i in state.indices { state[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 8) }
        let published = try await Self.publish(client, s, at: ends[0], state)
        #expect(published.status == 204)
        await client.close()
        node.terminate()

        try await node.start()
        defer { node.terminate() }
        client = try await HTTPTestClient(port: node.port)
        let fetched = try await client.request("GET", "\(s)/snapshot/\(ends[0])")
        #expect(fetched.status == 200 && fetched.body.count == state.count && fetched.body == state)
        let boot = try Multipart.parse(try await client.request("GET", "\(s)/bootstrap"))
        #expect(boot.first?.body == state)
        #expect(boot.dropFirst().flatMap(\.body) == Array("y".utf8))
        await client.close()
    }

    @Test func aSnapshotPublishedOnOneNodeBootstrapsOnAnotherAcrossARestart() async throws {
        // One retained log entry: a Raft snapshot, not the log, brings a wiped node back.
        let cluster = try RunnelCluster(size: 3, name: "snap", arguments: ["--retained-log-entries", "1"])
        defer { cluster.kill(); cluster.removeData() }
        try await cluster.start()
        let leader = try await cluster.waitForLeader()
        let follower = (leader + 1) % 3
        let other = (leader + 2) % 3
        let writer = try await HTTPTestClient(port: cluster.nodes[follower].port)
        let s = "\(Self.ds)/replicated"
        let ends = try await Self.textStream(writer, s, ["m1 ", "m2 ", "m3 "])
        // Published through a follower (forwarded to the leader).
        let state = [UInt8](repeating: 42, count: 1_500_000)
        #expect(try await Self.publish(writer, s, at: ends[1], state).status == 204)
        #expect(try await writer.request("PUT", "\(s)/retention/\(ends[1])").status == 204)
        await writer.close()

        // The third node restarts, then bootstraps what was published on another.
        cluster.nodes[other].kill()
        try await cluster.nodes[other].start()
        try await cluster.waitForConvergence()
        let reader = try await HTTPTestClient(port: cluster.nodes[other].port)
        let boot = try await reader.request("GET", "\(s)/bootstrap")
        let parts = try Multipart.parse(boot)
        #expect(boot.header("Stream-Snapshot-Offset") == ends[1])
        #expect(parts.first?.body == state)
        #expect(parts.dropFirst().flatMap(\.body) == Array("m3 ".utf8))
        #expect(try await reader.request("GET", "\(s)?offset=-1").status == 410)
        await reader.close()

        // A Raft snapshot and compaction on the leader, then a follower loses its disk: the
        // stream snapshot's rows and bytes reach it inside the Raft snapshot.
        let admin = try await HTTPTestClient(port: cluster.nodes[leader].port)
        #expect(try await admin.request("POST", "/admin/v1/snapshot").status == 200)
        #expect(try await admin.request("POST", s, headers: [("Content-Type", "text/plain")], body: Array("m4".utf8)).status == 204)
        #expect(try await admin.request("POST", "/admin/v1/snapshot").status == 200)
        await admin.close()
        cluster.nodes[follower].kill()
        try FileManager.default.removeItem(atPath: cluster.directories[follower])
        try await cluster.nodes[follower].start()
        let wiped = try await HTTPTestClient(port: cluster.nodes[follower].port)
        let deadline = ContinuousClock.now + .seconds(60)
        while try await wiped.request("GET", "/readyz").status != 200, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let again = try Multipart.parse(try await wiped.request("GET", "\(s)/bootstrap"))
        #expect(again.first?.body == state, "the stream snapshot did not travel with the Raft snapshot")
        #expect(again.dropFirst().flatMap(\.body) == Array("m3 m4".utf8))
        #expect(cluster.nodes[follower].log.contains("installed a snapshot"), "the wiped node was not brought back by a Raft snapshot")
        await wiped.close()
    }
}

/// A strict reader of the `multipart/mixed` bodies `/bootstrap` answers (every part has a
/// `Content-Length`).
enum Multipart {
    struct Part {
        var headers: [String: String]
        var body: [UInt8]
    }

    struct Malformed: Error, CustomStringConvertible { var description: String }

    static func parse(_ response: HTTPTestClient.Response) throws -> [Part] {
        let type = response.header("Content-Type") ?? ""
        guard type.hasPrefix("multipart/mixed; boundary="), response.status == 200 else {
            throw Malformed(description: "not a multipart response: \(response.status) \(type) \(response.text)")
        }
        let boundary = Array(("--" + type.dropFirst("multipart/mixed; boundary=".count)).utf8)
        let body = response.body
        var i = 0
        var parts: [Part] = []
        func expect(_ bytes: [UInt8]) throws {
            guard i + bytes.count <= body.count, Array(body[i..<(i + bytes.count)]) == bytes else {
                throw Malformed(description: "expected \(String(decoding: bytes, as: UTF8.self)) at \(i)")
            }
            i += bytes.count
        }
        try expect(boundary)
        while true {
            try expect(Array("\r\n".utf8))
            var headers: [String: String] = [:]
            while true {
                guard let end = (i..<max(i, body.count - 1)).first(where: { body[$0] == 13 && body[$0 + 1] == 10 }) else {
                    throw Malformed(description: "unterminated part header")
                }
                let line = String(decoding: body[i..<end], as: UTF8.self)
                i = end + 2
                if line.isEmpty { break }
                let pieces = line.split(separator: ":", maxSplits: 1)
                guard pieces.count == 2 else { throw Malformed(description: "bad part header \(line)") }
                headers[pieces[0].lowercased()] = pieces[1].trimmingCharacters(in: .whitespaces)
            }
            guard let length = headers["content-length"].flatMap(Int.init), i + length <= body.count else {
                throw Malformed(description: "part without a usable Content-Length")
            }
            parts.append(Part(headers: headers, body: Array(body[i..<(i + length)])))
            i += length
            try expect(Array("\r\n".utf8) + boundary)
            if i + 2 <= body.count, body[i] == 45, body[i + 1] == 45 {
                try expect(Array("--\r\n".utf8))
                guard i == body.count else { throw Malformed(description: "bytes after the closing delimiter") }
                return parts
            }
        }
    }
}
