import Foundation
import HTTPTypes
import Hummingbird
import Replication
import StreamModel

extension RunnelResponder {
    /// `GET /admin/v1/streams/{bucket}/{stream}` (api.md §3): everything this node's applied
    /// state holds about one stream, read like `consistency=local` (no read barrier), so two
    /// nodes may answer differently until they have applied the same entries. An expired
    /// stream is absent, as it is to readers; a soft-deleted one is shown.
    func inspectStream(_ path: StreamPath) throws(ModelError) -> Response {
        let (meta, applied) = store.inspectStream(at: path, now: now())
        guard let meta else {
            let why = store.bucket(path.bucket) == nil ? "bucket \(path.bucket) does not exist" : "stream \(path) does not exist"
            throw ModelError(.streamNotFound, why)
        }
        return json(.ok, Inspection.streamJSON(meta, nodeID: store.nodeID, appliedIndex: applied))
    }

    /// `GET /admin/v1/buckets` (api.md §3): every bucket with its streams' totals, from this
    /// node's applied state.
    func bucketTotals() -> Response {
        let (buckets, applied) = store.bucketTotals()
        return json(.ok, Inspection.bucketsJSON(buckets, nodeID: store.nodeID, appliedIndex: applied))
    }

    /// `PUT /admin/v1/buckets/{bucket}/limits {"max_stored_bytes": N | null}`
    /// (docs/access-control.md "Bucket storage limit"): replicates the bucket's limit, then
    /// answers the bucket's figures as this node applied them, the new limit included.
    func setBucketLimit(_ request: Request, bucket: String) async throws -> Response {
        guard Identifiers.isValidBucket(bucket) else {
            throw APIError.badRequest("invalid_bucket", "a bucket name is 1-64 bytes of a-z, 0-9, _ and -")
        }
        let body = try await readBody(request)
        let limit: UInt64?
        do { limit = try JSONDecoder().decode(BucketLimitBody.self, from: Data(body)).maxStoredBytes } catch {
            throw APIError.badRequest("invalid_body", "expected {\"max_stored_bytes\": <bytes, 0 to 2^64-1> or null}")
        }
        _ = try await propose(.setBucketLimit(bucket, maxStoredBytes: limit))
        // The view is published before a proposal is answered, so it holds the new limit.
        let (buckets, applied) = store.bucketTotals()
        guard let totals = buckets.first(where: { $0.bucket.name == bucket }) else {
            throw ModelError(.bucketNotFound, "bucket \(bucket) was deleted")
        }
        return json(.ok, Inspection.bucketJSON(totals, nodeID: store.nodeID, appliedIndex: applied))
    }
}

/// The body of `PUT /admin/v1/buckets/{bucket}/limits`: the key is required, and its value
/// is a byte count or `null` (no limit); anything else does not decode.
struct BucketLimitBody: Decodable {
    var maxStoredBytes: UInt64?

    private enum CodingKeys: String, CodingKey {
        case maxStoredBytes = "max_stored_bytes"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // Present but null clears the limit; absent is an error, not a clear.
        maxStoredBytes = try container.decodeNil(forKey: .maxStoredBytes)
            ? nil : try container.decode(UInt64.self, forKey: .maxStoredBytes)
    }
}

/// The operator inspection documents (docs/operations.md "Inspecting a stream"): snake_case
/// keys, counts as JSON numbers, offsets in their `%016d_%016d` form, and every time twice,
/// as RFC 3339 (`…_at`) and as milliseconds since the epoch (`…_at_ms`).
enum Inspection {
    /// The document of one stream.
    static func streamJSON(_ meta: StreamMeta, nodeID: UInt64, appliedIndex: UInt64) -> String {
        let snapshots = meta.snapshots.map { snapshot in
            "{\"offset\":\"\(snapshot.offset)\",\"digest\":\"\(snapshot.digestHex)\""
                + ",\"content_type\":\(JSONText.quote(snapshot.contentType)),\"size\":\(snapshot.size),"
                + time("published_at", snapshot.publishedAt) + "}"
        }
        let producers = meta.producers.sorted { $0.key < $1.key }.map { id, state in
            "{\"id\":\(JSONText.quote(id.value)),\"epoch\":\(state.epoch),\"last_seq\":\(state.lastSeq),"
                + time("last_used_at", state.lastUsedAt) + "}"
        }
        let fork = meta.fork.map { fork in
            "{\"source\":\(JSONText.quote(fork.sourcePath.description)),\"source_id\":\(fork.sourceID)"
                + ",\"offset\":\"\(fork.offset)\",\"sub_offset\":\(fork.subOffset)}"
        } ?? "null"
        var out = "{\"bucket\":\(JSONText.quote(meta.path.bucket)),\"stream\":\(JSONText.quote(meta.path.name))"
        out += ",\"id\":\(meta.id),\"content_type\":\(JSONText.quote(meta.contentType))"
        out += ",\"closed\":\(meta.closed),\"soft_deleted\":\(meta.softDeleted)"
        out += ",\"offsets\":{\"start\":\"\(meta.base)\",\"retained\":\"\(meta.retained)\",\"tail\":\"\(meta.tail)\"}"
        out += ",\"bytes\":{\"appended\":\(meta.bytesAppended),\"stored\":\(meta.bytesStored),\"snapshots\":\(meta.snapshotBytes)}"
        out += ",\"messages\":{\"appended\":\(meta.messageCount)}"
        out += ",\"snapshots\":[\(snapshots.joined(separator: ","))]"
        out += ",\"latest_snapshot_offset\":" + (meta.latestSnapshot.map { "\"\($0.offset)\"" } ?? "null")
        out += ",\"retention\":{\"auto\":\(meta.autoRetention)}"
        out += ",\"producers\":[\(producers.joined(separator: ","))]"
        out += ",\"fork\":\(fork),\"fork_count\":\(meta.forkCount)"
        out += ",\"expiry\":{\"ttl_seconds\":\(ttlSeconds(meta.expiry).map(String.init) ?? "null")," + time("expires_at", expiresAt(meta)) + "}"
        out += "," + time("last_access_at", meta.lastAccessAt)
        out += "," + time("created_at", meta.createdAt)
        out += "," + time("last_write_at", meta.lastWriteAt)
        out += ",\"last_stream_seq\":" + (meta.lastStreamSeq.map(JSONText.quote) ?? "null")
        out += ",\"node_id\":\(nodeID),\"applied_index\":\(appliedIndex)}"
        return out
    }

    /// The document of every bucket, in the order given (by name).
    static func bucketsJSON(_ buckets: [BucketTotals], nodeID: UInt64, appliedIndex: UInt64) -> String {
        let items = buckets.map { "{" + bucketFields($0) + "}" }
        return "{\"buckets\":[\(items.joined(separator: ","))],\"node_id\":\(nodeID),\"applied_index\":\(appliedIndex)}"
    }

    /// The document of one bucket (the answer to setting its limit): its fields as in
    /// `bucketsJSON`, with the node and applied index.
    static func bucketJSON(_ totals: BucketTotals, nodeID: UInt64, appliedIndex: UInt64) -> String {
        "{" + bucketFields(totals) + ",\"node_id\":\(nodeID),\"applied_index\":\(appliedIndex)}"
    }

    /// One bucket's fields: its totals and its stored-bytes limit (`null`: none).
    private static func bucketFields(_ totals: BucketTotals) -> String {
        "\"bucket\":\(JSONText.quote(totals.bucket.name))," + time("created_at", totals.bucket.createdAt)
            + ",\"streams\":\(totals.streams),\"bytes_appended\":\(totals.bytesAppended)"
            + ",\"bytes_stored\":\(totals.bytesStored),\"messages_appended\":\(totals.messagesAppended)"
            + ",\"snapshots\":\(totals.snapshots),\"bytes_snapshots\":\(totals.snapshotBytes)"
            + ",\"max_stored_bytes\":" + (totals.bucket.maxStoredBytes.map(String.init) ?? "null")
    }

    /// The times RFC 3339 can write (years 0000 to 9999), in milliseconds since the epoch.
    static let rfc3339Range: ClosedRange<Int64> = -62_167_219_200_000...253_402_300_799_999

    /// `"key":"<RFC 3339>","key_ms":<ms>`, or both `null`. A time from the log outside what
    /// RFC 3339 can write keeps its milliseconds and has a `null` text.
    static func time(_ key: String, _ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "\"\(key)\":null,\"\(key)_ms\":null" }
        let text = rfc3339Range.contains(milliseconds) ? JSONText.quote(RFC3339.format(milliseconds)) : "null"
        return "\"\(key)\":\(text),\"\(key)_ms\":\(milliseconds)"
    }

    /// The sliding TTL, if the stream has one.
    static func ttlSeconds(_ expiry: Expiry) -> UInt64? {
        if case .ttl(let seconds) = expiry { return seconds }
        return nil
    }

    /// When the stream expires if nothing renews it: the absolute deadline, or the last access
    /// plus the TTL (`nil` without expiry, or for a TTL too large to be a time).
    static func expiresAt(_ meta: StreamMeta) -> Int64? {
        switch meta.expiry {
        case .never:
            return nil
        case .at(let deadline):
            return deadline
        case .ttl(let seconds):
            guard seconds <= UInt64(Int64.max / 1000) else { return nil }
            let (deadline, overflow) = meta.lastAccessAt.addingReportingOverflow(Int64(seconds) * 1000)
            return overflow ? nil : deadline
        }
    }
}
