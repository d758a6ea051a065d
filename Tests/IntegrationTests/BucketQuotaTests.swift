import Foundation
import RunnelTesting
import Testing

/// A bucket's stored-bytes limit on a real process (issue 17 "Quotas", docs/access-control.md
/// "Bucket storage limit"): set through the admin API, enforced with 507, freed by deleting a
/// stream, and kept across a restart.
@Suite struct BucketQuotaHTTPTests {
    private func json(_ response: HTTPTestClient.Response) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], "\(response.status) \(response.text)")
    }

    private func errorCode(_ response: HTTPTestClient.Response) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return (object?["error"] as? [String: Any])?["code"] as? String
    }

    private func offset(_ position: Int) -> String {
        "0000000000000000_" + String(repeating: "0", count: 16 - String(position).count) + String(position)
    }

    private func setLimit(_ client: HTTPTestClient, _ bucket: String, _ body: String) async throws -> HTTPTestClient.Response {
        try await client.request("PUT", "/admin/v1/buckets/\(bucket)/limits", headers: [("Content-Type", "application/json")],
                                 body: Array(body.utf8))
    }

    /// The `GET /admin/v1/buckets` entry of `bucket`.
    private func bucketFigures(_ client: HTTPTestClient, _ bucket: String) async throws -> [String: Any] {
        let listed = try json(try await client.request("GET", "/admin/v1/buckets"))
        let buckets = try #require(listed["buckets"] as? [[String: Any]])
        return try #require(buckets.first { $0["bucket"] as? String == bucket }, "\(bucket) not in \(buckets)")
    }

    private func tail(_ client: HTTPTestClient, _ path: String) async throws -> String? {
        try await client.request("HEAD", path).header("Stream-Next-Offset")
    }

    @Test func aFullBucketRefusesWritesUntilSpaceIsFreed() async throws {
        try await RunnelProcess.withNode("quota") { first, node in
            var client = first
            let text = [("Content-Type", "text/plain")]
            #expect(try await client.request("PUT", "/ds/tenant").status == 201)
            #expect(try await bucketFigures(client, "tenant")["max_stored_bytes"] is NSNull)

            // Setting the limit answers the bucket's figures.
            let set = try await setLimit(client, "tenant", #"{"max_stored_bytes": 20}"#)
            #expect(set.status == 200, "\(set.text)")
            let figures = try json(set)
            #expect(figures["bucket"] as? String == "tenant")
            #expect(figures["max_stored_bytes"] as? Int == 20)
            #expect(figures["bytes_stored"] as? Int == 0)
            #expect(figures["applied_index"] is Int)

            // Refusals of the admin route itself.
            for body in ["{}", #"{"max_stored_bytes": -1}"#, #"{"max_stored_bytes": 1.5}"#, "[20]", "",
                         #"{"max_stored_bytes": 18446744073709551616}"#, #"{"max_stored_bytes": "20"}"#] {
                let refused = try await setLimit(client, "tenant", body)
                #expect(refused.status == 400 && errorCode(refused) == "invalid_body", "\(body): \(refused.status) \(refused.text)")
            }
            let unknown = try await setLimit(client, "nosuch", #"{"max_stored_bytes": 1}"#)
            #expect(unknown.status == 404 && errorCode(unknown) == "bucket_not_found", "\(unknown.status) \(unknown.text)")
            let malformed = try await setLimit(client, "Bad", #"{"max_stored_bytes": 1}"#)
            #expect(malformed.status == 400 && errorCode(malformed) == "invalid_bucket", "\(malformed.status) \(malformed.text)")
            let get = try await client.request("GET", "/admin/v1/buckets/tenant/limits")
            #expect(get.status == 405 && get.header("Allow") == "PUT", "\(get.status) \(get.headers)")
            #expect(try await bucketFigures(client, "tenant")["max_stored_bytes"] as? Int == 20)

            // Fill the bucket: 10 + 8 bytes, then a write that does not fit.
            #expect(try await client.request("PUT", "/ds/tenant/a", headers: text, body: Array("0123456789".utf8)).status == 201)
            #expect(try await client.request("PUT", "/ds/tenant/b", headers: text, body: Array("abcdefgh".utf8)).status == 201)
            let full = try await client.request("POST", "/ds/tenant/b", headers: text, body: Array("xyz".utf8))
            #expect(full.status == 507, "\(full.status) \(full.text)")
            #expect(errorCode(full) == "bucket_quota_exceeded", "\(full.text)")
            #expect(try await tail(client, "/ds/tenant/b") == offset(8))

            // Exactly to the limit fits; the producer's retry is still a duplicate, not a 507.
            let producer = text + [("Producer-Id", "p"), ("Producer-Epoch", "0"), ("Producer-Seq", "0")]
            let last = try await client.request("POST", "/ds/tenant/b", headers: producer, body: Array("ij".utf8))
            #expect((200...204).contains(last.status), "\(last.status) \(last.text)")
            let retry = try await client.request("POST", "/ds/tenant/b", headers: producer, body: Array("ij".utf8))
            #expect((200...204).contains(retry.status), "\(retry.status) \(retry.text)")
            #expect(try await tail(client, "/ds/tenant/b") == offset(10))
            // A create with a body counts too; other buckets do not.
            let create = try await client.request("PUT", "/ds/tenant/c", headers: text, body: Array("z".utf8))
            #expect(create.status == 507 && errorCode(create) == "bucket_quota_exceeded", "\(create.status) \(create.text)")
            #expect(try await client.request("PUT", "/ds/_default/elsewhere", headers: text, body: Array("z".utf8)).status == 201)
            // So does a snapshot, refused before any chunk is stored.
            let snapshot = try await client.request("PUT", "/ds/tenant/b/snapshot/\(offset(8))",
                                                    headers: [("Content-Type", "application/x-state")], body: Array("state".utf8))
            #expect(snapshot.status == 507 && errorCode(snapshot) == "bucket_quota_exceeded", "\(snapshot.status) \(snapshot.text)")

            // Deleting a stream frees its bytes.
            #expect(try await client.request("DELETE", "/ds/tenant/a").status == 204)
            let after = try await client.request("POST", "/ds/tenant/b", headers: text, body: Array("xyz".utf8))
            #expect(after.status == 204, "\(after.status) \(after.text)")
            #expect(try await tail(client, "/ds/tenant/b") == offset(13))
            #expect(try await bucketFigures(client, "tenant")["bytes_stored"] as? Int == 13)

            // The limit, and the usage it is compared with, survive a restart.
            node.terminate()
            try await node.start()
            client = try await HTTPTestClient(port: node.port)
            #expect(try await bucketFigures(client, "tenant")["max_stored_bytes"] as? Int == 20)
            let stillFull = try await client.request("POST", "/ds/tenant/b", headers: text, body: Array("12345678".utf8))
            #expect(stillFull.status == 507, "\(stillFull.status) \(stillFull.text)")
            #expect(try await client.request("POST", "/ds/tenant/b", headers: text, body: Array("1234567".utf8)).status == 204)

            // Cleared, the bucket takes writes again.
            let cleared = try await setLimit(client, "tenant", #"{"max_stored_bytes": null}"#)
            #expect(cleared.status == 200, "\(cleared.text)")
            #expect(try json(cleared)["max_stored_bytes"] is NSNull)
            #expect(try await client.request("POST", "/ds/tenant/b", headers: text, body: Array("more".utf8)).status == 204)
            await client.close()
        }
    }
}
