import Foundation
import RunnelTesting
import Testing

/// The operator inspection endpoints (issue 16, api.md §3) on a real process: every figure
/// of `GET /admin/v1/streams/{bucket}/{stream}` and the totals of `GET /admin/v1/buckets`
/// match what was written, and the admin rules hold (GET only, no CORS, stable error codes).
@Suite struct InspectionTests {
    private func withNode(_ body: (HTTPTestClient) async throws -> Void) async throws {
        try await RunnelProcess.withNode("inspect") { client, _ in try await body(client) }
    }

    private func json(_ response: HTTPTestClient.Response) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], "\(response.status) \(response.text)")
    }

    private func errorCode(_ response: HTTPTestClient.Response) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return (object?["error"] as? [String: Any])?["code"] as? String
    }

    private func corsHeaders(_ response: HTTPTestClient.Response) -> [String] {
        response.headers.map(\.name).filter { $0.lowercased().hasPrefix("access-control-") }
    }

    /// `GET /admin/v1/streams/…` (sent with an `Origin`, which must not earn CORS headers).
    private func inspect(_ client: HTTPTestClient, _ path: String) async throws -> [String: Any] {
        let response = try await client.request("GET", "/admin/v1/streams/\(path)", headers: [("Origin", "https://example.com")])
        #expect(response.status == 200, "\(path): \(response.status) \(response.text)")
        #expect(response.header("Content-Type") == "application/json")
        #expect(corsHeaders(response).isEmpty, "\(path): \(corsHeaders(response))")
        return try json(response)
    }

    private func offset(_ position: Int) -> String {
        "0000000000000000_" + String(repeating: "0", count: 16 - String(position).count) + String(position)
    }

    /// Milliseconds of an RFC 3339 time the server wrote.
    private func milliseconds(_ text: Any?) -> Int64? {
        guard let text = text as? String else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// Every `<key>` time is RFC 3339 and names the same instant as `<key>_ms`.
    private func checkTime(_ object: [String: Any], _ key: String, sourceLocation: SourceLocation = #_sourceLocation) -> Int64? {
        let ms = object["\(key)_ms"] as? Int64
        #expect(ms != nil, "\(key)_ms", sourceLocation: sourceLocation)
        #expect(milliseconds(object[key]) == ms, "\(key): \(object[key] ?? "nil")", sourceLocation: sourceLocation)
        return ms
    }

    /// Stored bytes of JSON messages: each is framed behind 4 length bytes.
    private func framed(_ messages: String...) -> Int {
        messages.reduce(0) { $0 + 4 + $1.utf8.count }
    }

    @Test func inspectionReportsWhatWasWritten() async throws {
        try await withNode { client in
            let started = Int64(Date().timeIntervalSince1970 * 1000)
            let text = [("Content-Type", "text/plain")]
            #expect(try await client.request("PUT", "/ds/shop").status == 201)

            // A byte stream: a body at creation, Stream-Seq appends, two producers.
            #expect(try await client.request("PUT", "/ds/shop/bytes", headers: text, body: Array("hello".utf8)).status == 201)
            #expect(try await client.request("POST", "/ds/shop/bytes", headers: text + [("Stream-Seq", "s1")], body: Array("abc".utf8)).status == 204)
            #expect(try await client.request("POST", "/ds/shop/bytes", headers: text + [("Stream-Seq", "s2")], body: Array("xy".utf8)).status == 204)
            for (id, epoch, seq) in [("p1", 0, 0), ("p1", 0, 1), ("a0", 2, 0)] {
                let appended = try await client.request("POST", "/ds/shop/bytes", headers: text + [
                    ("Producer-Id", id), ("Producer-Epoch", String(epoch)), ("Producer-Seq", String(seq)),
                ], body: Array("z".utf8))
                #expect((200...204).contains(appended.status), "\(id) \(seq): \(appended.status) \(appended.text)")
            }
            // 5 + 3 + 2 + 1 + 1 + 1 bytes in six appends.
            let bytesTail = 13
            #expect(try await client.request("HEAD", "/ds/shop/bytes").header("Stream-Next-Offset") == offset(bytesTail))

            // A JSON stream: messages count one by one, framed; then closed.
            let jsonType = [("Content-Type", "application/json")]
            #expect(try await client.request("PUT", "/ds/shop/events", headers: jsonType, body: Array(#"[{"a":1},{"b":[2,3]}]"#.utf8)).status == 201)
            #expect(try await client.request("POST", "/ds/shop/events", headers: jsonType + [("Stream-Closed", "true")],
                                             body: Array(#"{"c":"x"}"#.utf8)).status == 204)
            let eventsTail = framed(#"{"a":1}"#, #"{"b":[2,3]}"#, #"{"c":"x"}"#)

            // A fork of the byte stream after "hello", 2 bytes into "abc", then its own append.
            let forked = try await client.request("PUT", "/ds/shop/fork", headers: text + [
                ("Stream-Forked-From", "/ds/shop/bytes"), ("Stream-Fork-Offset", offset(5)), ("Stream-Fork-Sub-Offset", "2"),
            ])
            #expect(forked.status == 201, "\(forked.status) \(forked.text)")
            #expect(try await client.request("POST", "/ds/shop/fork", headers: text, body: Array("FF".utf8)).status == 204)

            // Expiry: a sliding TTL and an absolute deadline.
            #expect(try await client.request("PUT", "/ds/shop/ttl", headers: text + [("Stream-TTL", "3600")]).status == 201)
            let deadline = "2099-01-01T00:00:00.250Z"
            #expect(try await client.request("PUT", "/ds/shop/until", headers: text + [("Stream-Expires-At", deadline)]).status == 201)
            // A name with `/`, possible on /v1/stream/.
            #expect(try await client.request("PUT", "/v1/stream/shop/dir/sub", headers: text, body: Array("q".utf8)).status == 201)
            let finished = Int64(Date().timeIntervalSince1970 * 1000)

            let bytes = try await inspect(client, "shop/bytes")
            let bytesID = try #require(bytes["id"] as? Int)
            #expect(bytes["bucket"] as? String == "shop")
            #expect(bytes["stream"] as? String == "bytes")
            #expect(bytes["content_type"] as? String == "text/plain")
            #expect(bytes["closed"] as? Bool == false)
            #expect(bytes["soft_deleted"] as? Bool == false)
            #expect(bytes["offsets"] as? [String: String] == ["start": offset(0), "retained": offset(0), "tail": offset(bytesTail)])
            #expect(bytes["bytes"] as? [String: Int] == ["appended": bytesTail, "stored": bytesTail, "snapshots": 0])
            #expect(bytes["messages"] as? [String: Int] == ["appended": 6])
            #expect((bytes["snapshots"] as? [Any])?.isEmpty == true)
            #expect(bytes["latest_snapshot_offset"] is NSNull)
            #expect(bytes["retention"] as? [String: Bool] == ["auto": false])
            let producers = try #require(bytes["producers"] as? [[String: Any]])
            #expect(producers.map { $0["id"] as? String } == ["a0", "p1"])
            #expect(producers.map { $0["epoch"] as? Int } == [2, 0])
            #expect(producers.map { $0["last_seq"] as? Int } == [0, 1])
            for producer in producers {
                let used = checkTime(producer, "last_used_at")
                #expect(used.map { (started - 1000)...(finished + 1000) ~= $0 } == true)
            }
            #expect(bytes["fork"] is NSNull)
            #expect(bytes["fork_count"] as? Int == 1)
            let bytesExpiry = try #require(bytes["expiry"] as? [String: Any])
            #expect(bytesExpiry["ttl_seconds"] is NSNull && bytesExpiry["expires_at"] is NSNull && bytesExpiry["expires_at_ms"] is NSNull)
            #expect(bytes["last_stream_seq"] as? String == "s2")
            let created = try #require(checkTime(bytes, "created_at"))
            let lastWrite = try #require(checkTime(bytes, "last_write_at"))
            _ = checkTime(bytes, "last_access_at")
            #expect((started - 1000)...(finished + 1000) ~= created)
            #expect(created <= lastWrite && lastWrite <= finished + 1000)
            #expect((bytes["node_id"] as? Int) == 1)
            #expect(((bytes["applied_index"] as? Int) ?? 0) > 0)
            // The same times as the bucket listing reports.
            let listing = try json(try await client.request("GET", "/ds/shop/streams?prefix=bytes"))
            let listed = try #require((listing["streams"] as? [[String: Any]])?.first)
            #expect(listed["created_at"] as? String == bytes["created_at"] as? String)
            #expect(listed["last_write_at"] as? String == bytes["last_write_at"] as? String)

            let events = try await inspect(client, "shop/events")
            #expect(events["content_type"] as? String == "application/json")
            #expect(events["closed"] as? Bool == true)
            #expect(events["offsets"] as? [String: String] == ["start": offset(0), "retained": offset(0), "tail": offset(eventsTail)])
            #expect(events["bytes"] as? [String: Int] == ["appended": eventsTail, "stored": eventsTail, "snapshots": 0])
            #expect(events["messages"] as? [String: Int] == ["appended": 3])
            #expect(events["last_stream_seq"] is NSNull)
            #expect((events["producers"] as? [Any])?.isEmpty == true)
            #expect(try await client.request("HEAD", "/ds/shop/events").header("Stream-Next-Offset") == offset(eventsTail))

            // The fork's own data starts at its fork offset: the 2 materialized bytes, then "FF".
            let fork = try await inspect(client, "shop/fork")
            #expect(fork["offsets"] as? [String: String] == ["start": offset(5), "retained": offset(0), "tail": offset(9)])
            #expect(fork["bytes"] as? [String: Int] == ["appended": 4, "stored": 4, "snapshots": 0])
            #expect(fork["messages"] as? [String: Int] == ["appended": 2])
            let origin = try #require(fork["fork"] as? [String: Any])
            #expect(origin["source"] as? String == "shop/bytes")
            #expect(origin["source_id"] as? Int == bytesID)
            #expect(origin["offset"] as? String == offset(5))
            #expect(origin["sub_offset"] as? Int == 2)
            #expect(fork["fork_count"] as? Int == 0)
            #expect((fork["id"] as? Int).map { $0 != bytesID } == true)
            #expect(try await client.request("GET", "/ds/shop/fork?offset=-1").text == "helloabFF")

            let ttl = try await inspect(client, "shop/ttl")
            let ttlExpiry = try #require(ttl["expiry"] as? [String: Any])
            #expect(ttlExpiry["ttl_seconds"] as? Int == 3600)
            let access = try #require(checkTime(ttl, "last_access_at"))
            #expect(checkTime(ttlExpiry, "expires_at") == access + 3_600_000)

            let until = try await inspect(client, "shop/until")
            let untilExpiry = try #require(until["expiry"] as? [String: Any])
            #expect(untilExpiry["ttl_seconds"] is NSNull)
            #expect(untilExpiry["expires_at"] as? String == deadline)
            #expect(untilExpiry["expires_at_ms"] as? Int64 == milliseconds(deadline))

            // A name holding `/`: spelled raw or as %2F after the bucket.
            for spelling in ["shop/dir%2Fsub", "shop/dir/sub", "shop/dir%2fsub"] {
                let sub = try await inspect(client, spelling)
                #expect(sub["stream"] as? String == "dir/sub", "\(spelling)")
                #expect(sub["bytes"] as? [String: Int] == ["appended": 1, "stored": 1, "snapshots": 0])
            }

            // Bucket totals: one pass over the same streams.
            let response = try await client.request("GET", "/admin/v1/buckets", headers: [("Origin", "https://example.com")])
            #expect(response.status == 200)
            #expect(corsHeaders(response).isEmpty)
            let buckets = try #require(try json(response)["buckets"] as? [[String: Any]])
            #expect(buckets.map { $0["bucket"] as? String } == ["_default", "shop"])
            let empty = buckets[0]
            #expect(empty["streams"] as? Int == 0 && empty["bytes_appended"] as? Int == 0 && empty["messages_appended"] as? Int == 0)
            let shop = buckets[1]
            #expect(shop["streams"] as? Int == 6)
            #expect(shop["bytes_appended"] as? Int == bytesTail + eventsTail + 4 + 1)
            #expect(shop["bytes_stored"] as? Int == bytesTail + eventsTail + 4 + 1)
            #expect(shop["messages_appended"] as? Int == 6 + 3 + 2 + 1)
            #expect(shop["snapshots"] as? Int == 0)
            #expect(shop["bytes_snapshots"] as? Int == 0)
            let bucketInfo = try json(try await client.request("GET", "/ds/shop"))
            #expect(shop["created_at"] as? String == bucketInfo["created_at"] as? String)
            _ = checkTime(shop, "created_at")

            // A source deleted while its fork reads through it stays, soft-deleted.
            #expect(try await client.request("DELETE", "/ds/shop/bytes").status == 204)
            #expect(try await client.request("GET", "/ds/shop/bytes").status == 410)
            let gone = try await inspect(client, "shop/bytes")
            #expect(gone["soft_deleted"] as? Bool == true)
            #expect(gone["fork_count"] as? Int == 1)
        }
    }

    @Test func malformedMissingAndOtherMethodsAreRefused() async throws {
        try await withNode { client in
            #expect(try await client.request("PUT", "/ds/shop").status == 201)
            #expect(try await client.request("PUT", "/ds/shop/s", headers: [("Content-Type", "text/plain")]).status == 201)
            let origin = [("Origin", "https://example.com")]
            let refusals: [(method: String, path: String, status: Int, code: String)] = [
                ("GET", "/admin/v1/streams/Shop/s", 400, "invalid_bucket"),
                ("GET", "/admin/v1/streams/sh%6Fp/s", 400, "invalid_bucket"),
                ("GET", "/admin/v1/streams/shop/a%2F..%2Fb", 400, "invalid_stream_name"),
                ("GET", "/admin/v1/streams/shop/", 400, "invalid_stream_name"),
                ("GET", "/admin/v1/streams/shop/%FF", 400, "invalid_stream_name"),
                ("GET", "/admin/v1/streams/shop/nosuch", 404, "stream_not_found"),
                ("GET", "/admin/v1/streams/nobucket/s", 404, "stream_not_found"),
                ("GET", "/admin/v1/streams/shop", 404, "not_found"),
                ("GET", "/admin/v1/streams%2Fshop/s", 404, "not_found"),
                ("POST", "/admin/v1/streams/shop/s", 405, "method_not_allowed"),
                ("DELETE", "/admin/v1/streams/shop/s", 405, "method_not_allowed"),
                ("HEAD", "/admin/v1/streams/shop/s", 405, ""),
                ("OPTIONS", "/admin/v1/streams/shop/s", 405, "method_not_allowed"),
                ("PUT", "/admin/v1/buckets", 405, "method_not_allowed"),
                ("OPTIONS", "/admin/v1/buckets", 405, "method_not_allowed"),
            ]
            for refusal in refusals {
                let headers = origin + (refusal.method == "OPTIONS" ? [("Access-Control-Request-Method", "GET")] : [])
                let response = try await client.request(refusal.method, refusal.path, headers: headers)
                let what = "\(refusal.method) \(refusal.path)"
                #expect(response.status == refusal.status, "\(what): \(response.status) \(response.text)")
                // A HEAD answer has no body to carry the code.
                if !refusal.code.isEmpty { #expect(errorCode(response) == refusal.code, "\(what): \(response.text)") }
                if refusal.status == 405 { #expect(response.header("Allow") == "GET", "\(what)") }
                #expect(corsHeaders(response).isEmpty, "\(what): \(corsHeaders(response))")
            }
        }
    }
}
