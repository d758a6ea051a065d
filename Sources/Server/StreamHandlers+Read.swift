import HTTPTypes
import Hummingbird
import NIOCore
import Replication
import Storage
import StreamModel

extension RunnelResponder {
    /// The live stream at `path`, or the 404/410 the protocol requires (§6, §10).
    func liveStream(_ path: StreamPath) throws -> StreamMeta {
        guard let meta = store.stream(at: path, now: now()) else {
            throw ModelError(.streamNotFound, "stream \(path) does not exist")
        }
        guard !meta.softDeleted else { throw ModelError(.streamGone, "stream \(path) was deleted") }
        return meta
    }

    /// `HEAD` (protocol §7): metadata, no body, and no TTL renewal.
    func head(_ path: StreamPath) throws -> Response {
        let meta = try liveStream(path)
        var fields = HTTPFields()
        fields[.contentType] = meta.contentType
        fields[.streamNextOffset] = meta.tail.description
        switch meta.expiry {
        case .never: break
        case .ttl(let seconds): fields[.streamTTL] = String(seconds)
        case .at(let ms): fields[.streamExpiresAt] = RFC3339.format(ms)
        }
        if meta.closed { fields[.streamClosed] = "true" }
        if let latest = meta.latestSnapshot { fields[.streamSnapshotOffset] = latest.offset.description }
        if meta.retained > .zero { fields[.streamRetainedOffset] = meta.retained.description }
        fields[.cacheControl] = "no-store"
        fields[.eTag] = meta.etag
        return response(.ok, headers: fields)
    }

    /// `GET` catch-up read (protocol §8.2), or a live read (§8.3–8.4) that ends early when
    /// the client behind `connection` goes away.
    func read(_ request: Request, path: StreamPath, connection: any Channel) async throws -> Response {
        let query = request.uri.queryParameters
        let offsetValues = query.getAll("offset")
        guard offsetValues.count <= 1 else { throw APIError.badRequest("invalid_offset", "offset given more than once") }
        var readOffset = ReadOffset.start
        if let text = offsetValues.first {
            guard let parsed = ReadOffset(text) else { throw APIError.badRequest("invalid_offset", "malformed offset") }
            readOffset = parsed
        }
        if query["live"] != nil && offsetValues.isEmpty {
            throw APIError.badRequest("missing_offset", "live reads need an offset")
        }
        let meta = try liveStream(path)
        if let live = query["live"] {
            try await renewTTL(meta)
            switch live {
            case "long-poll": return try await longPoll(request, path: path, readOffset: readOffset, meta: meta, connection: connection)
            case "sse": return try await serverSentEvents(request, path: path, readOffset: readOffset, meta: meta, connection: connection)
            default: throw APIError.badRequest("invalid_live", "live must be long-poll or sse")
            }
        }
        try await renewTTL(meta)

        var fields = HTTPFields()
        fields[.contentType] = meta.contentType
        fields[.crossOriginResourcePolicy] = "cross-origin"

        let from: Offset
        switch readOffset {
        case .start: from = .zero
        case .now:
            fields[.streamNextOffset] = meta.tail.description
            fields[.streamUpToDate] = "true"
            fields[.cacheControl] = "no-store"
            if meta.closed { fields[.streamClosed] = "true" }
            return response(.ok, headers: fields, body: ByteBuffer(string: meta.isJSON ? "[]" : ""))
        case .at(let offset): from = offset
        }
        guard from <= meta.tail else {
            throw APIError.badRequest("offset_beyond_tail", "offset \(from) is past the stream's tail \(meta.tail)")
        }
        try checkRetained(meta, from: from)
        let chunk = try await blocking { [store, meta, configuration] in try store.read(meta, from: from, maxBytes: configuration.readChunkBytes) }
        try checkMessageBoundary(meta, from: from, chunk: chunk)
        let closedAtEnd = meta.closed && chunk.upToDate
        let etag = StreamMeta.etag(id: meta.id, start: readOffset == .start ? nil : from, end: chunk.nextOffset, closed: closedAtEnd)
        fields[.eTag] = etag
        fields[.streamNextOffset] = chunk.nextOffset.description
        if chunk.upToDate { fields[.streamUpToDate] = "true" }
        if closedAtEnd { fields[.streamClosed] = "true" }
        if Self.ifNoneMatch(request.headers[values: .ifNoneMatch], matches: etag) {
            return response(.notModified, headers: fields)
        }
        return response(.ok, headers: fields, body: meta.isJSON ? jsonArray(chunk.messages) : chunk.bytes)
    }

    /// RFC 9110 §13.1.2: `If-None-Match` matches when it is `*` (the stream exists) or lists
    /// the current entity tag.
    static func ifNoneMatch(_ values: [String], matches etag: String) -> Bool {
        values.flatMap { $0.split(separator: ",") }.contains { candidate in
            let tag = candidate.trimmed
            return tag == "*" || tag == etag
        }
    }

    /// A JSON stream is read from message boundaries only (protocol §9): a read offset inside
    /// a message is a 400, not a silent skip to the next message. The reader skips a partial
    /// message, so the chunk's messages (each stored behind a 4-byte length) then fall short
    /// of the span the chunk covers.
    func checkMessageBoundary(_ meta: StreamMeta, from: Offset, chunk: ReadChunk) throws {
        guard meta.isJSON, chunk.nextOffset > from else { return }
        let stored = UInt64(chunk.messages.bytes.count)
        guard stored == chunk.nextOffset.position - from.position else {
            throw APIError.badRequest("offset_not_message_boundary",
                                      "offset \(from) is inside a JSON message; read from a message boundary")
        }
    }

    /// Whether `offset` is a message boundary of JSON stream `meta` (protocol §3.1, §9): the
    /// tail, or the start of a stored message.
    func isMessageBoundary(_ meta: StreamMeta, at offset: Offset) async throws -> Bool {
        guard meta.isJSON, offset < meta.tail else { return true }
        let chunk = try await blocking { [store] in try store.read(meta, from: offset, maxBytes: 1) }
        return (try? checkMessageBoundary(meta, from: offset, chunk: chunk)) != nil
    }

    /// Renews a sliding TTL on a read that reached the origin (protocol §10), at most about
    /// once a second per stream so reads do not turn into a write each.
    func renewTTL(_ meta: StreamMeta) async throws {
        guard case .ttl = meta.expiry, now() - meta.lastAccessAt >= 1000 else { return }
        _ = try await store.propose(.touch([meta.path]))
    }

    /// `[m1,m2,…]` from stored JSON messages, in one buffer of exactly its size.
    func jsonArray(_ messages: FramedMessages) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(messages.contentBytes + max(1, messages.count) + 1)
        JSONArray.write(messages) { buffer.writeBytes($0) }
        return buffer
    }
}

/// The JSON array a read of a JSON stream answers: its messages joined by commas in `[ ]`.
public enum JSONArray {
    /// Emits `[m1,m2,…]` piecewise to `write`.
    public static func write(_ messages: FramedMessages, _ write: (UnsafeRawBufferPointer) -> Void) {
        let open: StaticString = "[", comma: StaticString = ",", close: StaticString = "]"
        write(UnsafeRawBufferPointer(start: open.utf8Start, count: 1))
        var first = true
        messages.forEach { message in
            if !first { write(UnsafeRawBufferPointer(start: comma.utf8Start, count: 1)) }
            first = false
            write(message)
        }
        write(UnsafeRawBufferPointer(start: close.utf8Start, count: 1))
    }
}
