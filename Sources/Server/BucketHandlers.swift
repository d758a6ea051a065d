import HTTPTypes
import Hummingbird
import Replication
import Storage
import StreamModel

extension RunnelResponder {
    /// `PUT`, `GET`, `DELETE /ds/{bucket}` (api.md §2).
    func bucket(_ request: Request, _ name: String) async throws -> Response {
        switch request.method {
        case .put:
            guard case .bucketCreated(let created) = try await propose(.createBucket(name)) else {
                throw APIError(.internalServerError, "unexpected_result", "unexpected result")
            }
            return json(created ? .created : .ok, bucketJSON(name))
        case .get:
            guard store.bucket(name) != nil else { throw ModelError(.bucketNotFound, "bucket \(name) does not exist") }
            return json(.ok, bucketJSON(name))
        case .delete:
            _ = try await propose(.deleteBucket(name))
            return response(.noContent)
        default:
            throw APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not supported on a bucket")
        }
    }

    private func bucketJSON(_ name: String) -> String {
        let bucket = store.bucket(name)
        return "{\"bucket\":\(JSONText.quote(name)),\"streams\":\(bucket?.streamCount ?? 0),\"created_at\":\(JSONText.quote(RFC3339.format(bucket?.createdAt ?? 0)))}"
    }

    /// `GET /ds/{bucket}/streams?prefix=&after=&limit=` (api.md §2).
    func listStreams(_ request: Request, bucket: String) async throws -> Response {
        guard store.bucket(bucket) != nil else { throw ModelError(.bucketNotFound, "bucket \(bucket) does not exist") }
        let query = request.uri.queryParameters
        var limit = 1000
        if let text = query["limit"] {
            guard let parsed = Int(text), (1...1000).contains(parsed) else {
                throw APIError.badRequest("invalid_limit", "limit must be an integer in 1...1000")
            }
            limit = parsed
        }
        let prefix = try strictQueryValue(request, "prefix") ?? ""
        let after = try strictQueryValue(request, "after")
        let now = now()
        var page = try await blocking { [store, limit] in
            try store.state.listStreams(bucket: bucket, prefix: prefix, after: after, limit: limit + 1)
        }
        let hasMore = page.count > limit
        if hasMore { page.removeLast() }
        let items = page.compactMap { row -> String? in
            // Rows are the applied state; hide expired and soft-deleted streams like reads do.
            guard let meta = store.stream(at: row.path, now: now), !meta.softDeleted else { return nil }
            return "{\"stream\":\(JSONText.quote(meta.path.name)),\"content_type\":\(JSONText.quote(meta.contentType)),\"next_offset\":\"\(meta.tail)\",\"closed\":\(meta.closed),\"created_at\":\(JSONText.quote(RFC3339.format(meta.createdAt))),\"last_write_at\":\(JSONText.quote(RFC3339.format(meta.lastWriteAt)))}"
        }
        let cursor = hasMore ? JSONText.quote(page.last!.path.name) : "null"
        return json(.ok, "{\"streams\":[\(items.joined(separator: ","))],\"next_cursor\":\(cursor),\"has_more\":\(hasMore)}")
    }
}

extension RunnelResponder {
    /// The value of query parameter `name`, percent-decoded strictly: a value whose escapes do
    /// not decode to UTF-8 is a 400 (`invalid_query`), not the raw text, since names are bytes
    /// (api.md §1) and a listing by a mangled prefix would silently answer nothing.
    func strictQueryValue(_ request: Request, _ name: String) throws -> String? {
        guard let query = request.uri.query else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0] == name else { continue }
            let raw = parts.count > 1 ? String(parts[1]) : ""
            guard let value = Route.percentDecode(raw) else {
                throw APIError.badRequest("invalid_query", "\(name) is not valid percent-encoded UTF-8")
            }
            return value
        }
        return nil
    }
}
