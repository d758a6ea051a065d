import Foundation
import RunnelTesting
import Testing

/// The `/ds` extensions of api.md §2 over real HTTP: buckets (create, get, list with
/// pagination, delete) and `If-Match` conditional writes.
@Suite struct ExtensionsTests {
    private func withNode(_ body: (HTTPTestClient) async throws -> Void) async throws {
        try await RunnelProcess.withNode("ext") { client, _ in try await body(client) }
    }

    private func errorCode(_ response: HTTPTestClient.Response) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return (object?["error"] as? [String: Any])?["code"] as? String
    }

    private func json(_ response: HTTPTestClient.Response) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func bucketsAreCreatedListedPagedAndDeleted() async throws {
        try await withNode { client in
            let missing = try await client.request("GET", "/ds/nosuch")
            #expect(missing.status == 404)
            #expect(errorCode(missing) == "bucket_not_found")
            // A stream under /ds needs its bucket; nothing is created by the refusal.
            #expect(try await client.request("PUT", "/ds/nosuch/s", headers: [("Content-Type", "text/plain")]).status == 404)
            #expect(try await client.request("GET", "/ds/nosuch").status == 404)

            #expect(try await client.request("PUT", "/ds/b1").status == 201)
            #expect(try await client.request("PUT", "/ds/b1").status == 200)
            for name in ["a1", "a2", "b1", "b2", "b3"] {
                #expect(try await client.request("PUT", "/ds/b1/\(name)", headers: [("Content-Type", "text/plain")]).status == 201)
            }
            #expect(try await client.request("POST", "/ds/b1/a1", headers: [("Content-Type", "text/plain")], body: Array("hello".utf8)).status == 204)
            let info = try json(try await client.request("GET", "/ds/b1"))
            #expect(info["bucket"] as? String == "b1")
            #expect(info["streams"] as? Int == 5)

            // Pages of two, following next_cursor, return every stream once, in order.
            var names: [String] = []
            var after: String?
            var pages = 0
            repeat {
                let query = "limit=2" + (after.map { "&after=\($0)" } ?? "")
                let page = try json(try await client.request("GET", "/ds/b1/streams?\(query)"))
                let streams = try #require(page["streams"] as? [[String: Any]])
                names += streams.compactMap { $0["stream"] as? String }
                after = page["next_cursor"] as? String
                #expect((page["has_more"] as? Bool) == (after != nil))
                pages += 1
            } while after != nil && pages < 10
            #expect(names == ["a1", "a2", "b1", "b2", "b3"])
            #expect(pages == 3)
            let prefixed = try json(try await client.request("GET", "/ds/b1/streams?prefix=b"))
            #expect((prefixed["streams"] as? [[String: Any]])?.compactMap { $0["stream"] as? String } == ["b1", "b2", "b3"])
            let first = try #require((try json(try await client.request("GET", "/ds/b1/streams?prefix=a1"))["streams"] as? [[String: Any]])?.first)
            #expect(first["content_type"] as? String == "text/plain")
            #expect(first["next_offset"] as? String == "0000000000000000_0000000000000005")
            #expect(first["closed"] as? Bool == false)

            // Prefixes are percent-decoded strictly: escapes that are not UTF-8 are a 400.
            let escaped = try json(try await client.request("GET", "/ds/b1/streams?prefix=%62"))
            #expect((escaped["streams"] as? [[String: Any]])?.count == 3)
            for bad in ["prefix=%FF", "after=%C3", "prefix=%zz"] {
                let refused = try await client.request("GET", "/ds/b1/streams?\(bad)")
                #expect(refused.status == 400 && errorCode(refused) == "invalid_query", "\(bad): \(refused.status)")
            }

            let badLimit = try await client.request("GET", "/ds/b1/streams?limit=0")
            #expect(badLimit.status == 400)
            #expect(errorCode(badLimit) == "invalid_limit")

            // Not empty: 409, and nothing changes.
            let notEmpty = try await client.request("DELETE", "/ds/b1")
            #expect(notEmpty.status == 409)
            #expect(errorCode(notEmpty) == "bucket_not_empty")
            for name in ["a1", "a2", "b1", "b2", "b3"] {
                #expect(try await client.request("DELETE", "/ds/b1/\(name)").status == 204)
            }
            #expect(try await client.request("DELETE", "/ds/b1").status == 204)
            #expect(try await client.request("GET", "/ds/b1").status == 404)
            #expect(try await client.request("DELETE", "/ds/_default").status == 409)
        }
    }

    @Test func ifMatchAppliesAWriteOnlyAtTheExpectedETag() async throws {
        try await withNode { client in
            let text = [("Content-Type", "text/plain")]
            #expect(try await client.request("PUT", "/ds/_default/cas", headers: text).status == 201)
            let head = try await client.request("HEAD", "/ds/_default/cas")
            let etag = try #require(head.header("ETag"))

            let stale = try await client.request("POST", "/ds/_default/cas", headers: text + [("If-Match", "\"not-the-etag\"")], body: Array("x".utf8))
            #expect(stale.status == 412)
            #expect(errorCode(stale) == "precondition_failed")
            #expect(stale.header("ETag") == etag)
            #expect(stale.header("Stream-Next-Offset") == "0000000000000000_0000000000000000")

            let first = try await client.request("POST", "/ds/_default/cas", headers: text + [("If-Match", etag)], body: Array("one".utf8))
            #expect(first.status == 204)
            // The same precondition again is stale now: the first write moved the ETag.
            let second = try await client.request("POST", "/ds/_default/cas", headers: text + [("If-Match", etag)], body: Array("two".utf8))
            #expect(second.status == 412)
            let current = try #require(second.header("ETag"))
            #expect(current != etag)
            #expect(second.header("Stream-Next-Offset") == first.header("Stream-Next-Offset"))
            #expect(try await client.request("POST", "/ds/_default/cas", headers: text + [("If-Match", current)], body: Array("two".utf8)).status == 204)
            #expect(try await client.request("GET", "/ds/_default/cas?offset=-1").text == "onetwo")
            // An empty precondition matches nothing; "*" matches the existing stream.
            #expect(try await client.request("POST", "/ds/_default/cas", headers: text + [("If-Match", "")], body: Array("x".utf8)).status == 412)
            #expect(try await client.request("POST", "/ds/_default/cas", headers: text + [("If-Match", "*")], body: Array("!".utf8)).status == 204)
            #expect(try await client.request("GET", "/ds/_default/cas?offset=-1").text == "onetwo!")
        }
    }
}
