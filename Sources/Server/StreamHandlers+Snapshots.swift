import Crypto
import HTTPTypes
import Hummingbird
import NIOCore
import Replication
import Storage
import StreamModel

/// Stream snapshots, `/bootstrap` and retention on `/ds/{bucket}/{stream}/…` (api.md §2,
/// docs/stream-snapshots.md).
extension RunnelResponder {
    func streamResource(_ request: Request, path: StreamPath, _ resource: StreamResource, connection: any Channel) async throws -> Response {
        switch (resource, request.method) {
        case (.latestSnapshot, _): return try latestSnapshot(request, path: path)
        case (.snapshot(let raw), .get): return try getSnapshot(request, path: path, offset: try parseOffset(raw))
        case (.snapshot(let raw), .put): return try await publishSnapshot(request, path: path, offset: try parseOffset(raw))
        case (.snapshot(let raw), .delete):
            let offset = try parseOffset(raw)
            _ = try await propose(.deleteSnapshot(path, offset))
            return response(.noContent)
        case (.bootstrap, _): return try await bootstrap(request, path: path, connection: connection)
        case (.retention(let raw), _): return try await retain(path: path, raw)
        default:
            throw APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not supported here")
        }
    }

    /// A snapshot or retention offset: a minted offset (`\d+_\d+`), not `-1` or `now`.
    private func parseOffset(_ raw: String) throws -> Offset {
        guard let offset = Offset(raw), offset.epoch == 0, offset.position <= Offset.maxPosition else {
            throw APIError.badRequest("invalid_offset", "the offset must be an offset the stream returned (digits_digits)")
        }
        return offset
    }

    // MARK: Snapshots

    /// `GET …/snapshot`: 307 to the latest snapshot's URL; 404 if there is none.
    private func latestSnapshot(_ request: Request, path: StreamPath) throws -> Response {
        let meta = try liveStream(path)
        guard let latest = meta.latestSnapshot else {
            throw ModelError(.snapshotNotFound, "stream \(path) has no snapshot")
        }
        var fields = HTTPFields()
        fields[.location] = RouteFamily.ds.urlPath(of: path) + "/snapshot/\(latest.offset)"
        fields[.streamSnapshotOffset] = latest.offset.description
        fields[.streamSnapshotDigest] = latest.digestHex
        fields[.cacheControl] = "no-store"
        return response(.temporaryRedirect, headers: fields)
    }

    /// `GET …/snapshot/{offset}`: the bytes, streamed chunk by chunk from storage.
    private func getSnapshot(_ request: Request, path: StreamPath, offset: Offset) throws -> Response {
        let meta = try liveStream(path)
        guard let snapshot = meta.snapshots.first(where: { $0.offset == offset }) else {
            throw ModelError(.snapshotNotFound, "stream \(path) has no snapshot at \(offset)")
        }
        var fields = HTTPFields.standard
        fields[.contentType] = snapshot.contentType
        fields[.streamSnapshotOffset] = snapshot.offset.description
        fields[.streamSnapshotDigest] = snapshot.digestHex
        fields[.crossOriginResourcePolicy] = "cross-origin"
        let etag = "\"\(snapshot.digestHex)\""
        fields[.eTag] = etag
        fields[.cacheControl] = "no-cache"
        if Self.ifNoneMatch(request.headers[values: .ifNoneMatch], matches: etag) {
            return Response(status: .notModified, headers: fields)
        }
        fields[.contentLength] = String(snapshot.size)
        let body = ResponseBody { [self] writer in
            try await writeSnapshot(snapshot, to: writer)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: fields, body: body)
    }

    /// Writes a snapshot's bytes one stored chunk at a time (at most one chunk in memory).
    private func writeSnapshot(_ snapshot: StreamSnapshot, to writer: some ResponseBodyWriter) async throws {
        var writer = writer
        for index in 0..<snapshot.chunkCount {
            try await writer.write(try await snapshotChunk(snapshot, index))
        }
    }

    private func snapshotChunk(_ snapshot: StreamSnapshot, _ index: UInt32) async throws -> ByteBuffer {
        let bytes = try await blocking { [store] in try store.snapshotChunk(blobID: snapshot.blobID, index: index) }
        // Deleted after the request looked it up: end the body short (the client sees a
        // truncated response) rather than send other bytes.
        guard let bytes else { throw StorageError(.dropped, "snapshot at \(snapshot.offset) was deleted while it was read") }
        return ByteBuffer(bytes: bytes)
    }

    /// `PUT …/snapshot/{offset}`: checks the offset against the data, uploads the body as
    /// chunk entries, then publishes it (docs/stream-snapshots.md "Publishing").
    private func publishSnapshot(_ request: Request, path: StreamPath, offset: Offset) async throws -> Response {
        let contentType = try parseContentType(request.headers) ?? MediaType.octetStream
        guard !contentType.isEmpty, contentType.utf8.count <= 256 else {
            throw APIError.badRequest("invalid_content_type", "Content-Type must be 1 to 256 bytes")
        }
        var match: [UInt8]?
        if let text = try optionalHeader(request.headers, .streamSnapshotMatch) {
            guard let digest = SnapshotDigest.parse(text) else {
                throw APIError.badRequest("invalid_snapshot_digest", "Stream-Snapshot-Match must be 64 hex digits (SHA-256)")
            }
            match = digest
        }
        let body = try await readBody(request)
        let meta = try liveStream(path)
        let digest = Array(SHA256.hash(data: body))

        // What the model would refuse anyway, refused before any chunk is uploaded.
        if let existing = try meta.checkSnapshotPublish(at: offset, digest: digest, match: match) {
            return snapshotPublished(existing)
        }
        try await checkBoundary(meta, offset, what: "snapshot")
        // Refused half-way, the chunks already stored would count against the bucket until
        // the upload expires; a snapshot that cannot fit is refused before the first one.
        if let usage = store.bucketUsage(path.bucket) {
            try usage.bucket.checkRoom(storing: usage.stored, adding: body.count)
        }

        var blobID: UInt64?
        var index: UInt32 = 0
        var start = 0
        while start < body.count {
            let end = min(start + SnapshotLimits.chunkBytes, body.count)
            let chunk = SnapshotChunk(path: path, streamID: meta.id, blobID: blobID, index: index, bytes: Array(body[start..<end]))
            guard case .snapshotChunkStored(let id) = try await propose(.snapshotChunk(chunk)) else {
                throw APIError(.internalServerError, "internal_error", "unexpected result of a snapshot chunk")
            }
            blobID = id
            index += 1
            start = end
        }
        let publish = PublishSnapshot(path: path, streamID: meta.id, offset: offset, contentType: contentType,
                                      digest: digest, size: UInt64(body.count), blobID: blobID, match: match)
        guard case .snapshotPublished(let snapshot, _) = try await propose(.publishSnapshot(publish)) else {
            throw APIError(.internalServerError, "internal_error", "unexpected result of a snapshot publish")
        }
        return snapshotPublished(snapshot)
    }

    private func snapshotPublished(_ snapshot: StreamSnapshot) -> Response {
        var fields = HTTPFields()
        fields[.streamSnapshotOffset] = snapshot.offset.description
        fields[.streamSnapshotDigest] = snapshot.digestHex
        return response(.noContent, headers: fields)
    }

    /// A snapshot or retention offset (already checked to lie in the readable range) must be a
    /// message boundary: an offset the stream minted, or for JSON streams the start of a message.
    private func checkBoundary(_ meta: StreamMeta, _ offset: Offset, what: String) async throws {
        guard try await blocking({ [store] in try store.isMessageBoundary(meta, at: offset) }) else {
            throw APIError.badRequest("offset_not_message_boundary",
                                      "\(what) offset \(offset) is not a message boundary of the stream")
        }
    }

    // MARK: Retention

    /// `PUT …/retention/{offset|auto|manual}` (docs/stream-snapshots.md "Retention").
    private func retain(path: StreamPath, _ raw: String) async throws -> Response {
        let target: RetentionTarget
        switch raw {
        case "auto": target = .auto
        case "manual": target = .manual
        default:
            let offset = try parseOffset(raw)
            let meta = try liveStream(path)
            try meta.checkRetention(to: offset)
            if offset > meta.retained { try await checkBoundary(meta, offset, what: "retention") }
            target = .offset(offset)
        }
        guard case .retained(let retained, let auto) = try await propose(.retain(path, target)) else {
            throw APIError(.internalServerError, "internal_error", "unexpected result of a retention")
        }
        var fields = HTTPFields()
        fields[.streamRetainedOffset] = retained.description
        fields[.streamRetention] = auto ? "auto" : "manual"
        return response(.noContent, headers: fields)
    }

    /// The 410 of a read (or snapshot) below the retained offset, pointing at `/bootstrap`.
    func retainedGone(_ meta: StreamMeta, _ offset: Offset) -> APIError {
        var error = APIError(.gone, "offset_gone",
                             "offset \(offset) is before the retained offset \(meta.retained); start from the bootstrap")
        error.headers[.streamRetainedOffset] = meta.retained.description
        error.headers[.link] = "<\(RouteFamily.ds.urlPath(of: meta.path))/bootstrap>; rel=\"bootstrap\""
        return error
    }

    /// Refuses a read from below the retained offset (`-1` included once anything is dropped).
    func checkRetained(_ meta: StreamMeta, from offset: Offset) throws {
        if offset < meta.retained { throw retainedGone(meta, offset) }
    }

    // MARK: Bootstrap

    /// `GET …/bootstrap[?live=sse]`: one `multipart/mixed` body, the latest snapshot then the
    /// messages after it, each part streamed from storage; with `live=sse` a last
    /// `text/event-stream` part tails the stream on the same connection.
    private func bootstrap(_ request: Request, path: StreamPath, connection: any Channel) async throws -> Response {
        let live = request.uri.queryParameters["live"].map(String.init)
        guard live == nil || live == "sse" else { throw APIError.badRequest("invalid_live", "bootstrap supports live=sse only") }
        let meta = try liveStream(path)
        try await renewTTL(meta)
        let snapshot = meta.latestSnapshot
        let start = snapshot?.offset ?? meta.retained
        let boundary = Multipart.makeBoundary()

        var fields = HTTPFields.standard
        fields[.contentType] = "multipart/mixed; boundary=\(boundary)"
        fields[.streamSnapshotOffset] = start.description
        fields[.streamNextOffset] = meta.tail.description
        fields[.streamUpToDate] = "true"
        if meta.closed { fields[.streamClosed] = "true" }
        fields[.cacheControl] = "no-store"
        fields[.crossOriginResourcePolicy] = "cross-origin"
        fields[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let clientCursor = request.uri.queryParameters["cursor"].map(String.init)

        let follow = fanoutChannel(connection)
        let body = ResponseBody { [self] writer in
            let output = DeadlineWriter(writer, timeout: configuration.sseWriteTimeout)
            try await cancellingWhenPeerCloses(connection) { [self] in
                try await output.guarding { [self] in
                    try await writeBootstrap(output, meta: meta, snapshot: snapshot, start: start, boundary: boundary,
                                             live: live != nil, clientCursor: clientCursor, follow: follow)
                }
            }
        }
        return Response(status: .ok, headers: fields, body: body)
    }

    private func writeBootstrap(
        _ output: DeadlineWriter, meta: StreamMeta, snapshot: StreamSnapshot?, start: Offset, boundary: String,
        live: Bool, clientCursor: String?, follow: (any Channel)?
    ) async throws {
        // The snapshot part (empty when there is none).
        var head = ByteBuffer()
        Multipart.writePartHead(boundary: boundary, first: true, fields: [
            ("Content-Type", snapshot?.contentType ?? MediaType.octetStream),
            ("Stream-Snapshot-Offset", start.description),
        ] + (snapshot.map { [("Stream-Snapshot-Digest", $0.digestHex)] } ?? []) + [
            ("Content-Length", String(snapshot?.size ?? 0)),
        ], to: &head)
        try await output.write(head)
        if let snapshot {
            for index in 0..<snapshot.chunkCount { try await output.write(try await snapshotChunk(snapshot, index)) }
        }
        // The messages after it, one part per read chunk (a JSON array per part for JSON).
        var position = start
        while position < meta.tail {
            let from = position
            let chunk = try await blocking { [store, configuration] in
                try store.read(meta, from: from, maxBytes: configuration.readChunkBytes)
            }
            let data = meta.isJSON ? jsonArray(chunk.messages) : chunk.bytes
            var part = ByteBuffer()
            Multipart.writePartHead(boundary: boundary, first: false, fields: [
                ("Content-Type", meta.contentType),
                ("Stream-Offset", from.description),
                ("Stream-Next-Offset", chunk.nextOffset.description),
                ("Content-Length", String(data.readableBytes)),
            ], to: &part)
            try await output.write(part)
            try await output.write(data)
            position = chunk.nextOffset
        }
        let close = Multipart.closingDelimiter(boundary)
        guard live else {
            try await output.finish(close)
            return
        }
        // The live tail: SSE events from where the parts ended, as `GET ?live=sse` sends them.
        let encoding = SSEEncoding(contentType: meta.contentType)
        var fields = [("Content-Type", "text/event-stream"), ("Stream-Offset", position.description)]
        if encoding == .base64 { fields.append(("Stream-SSE-Data-Encoding", "base64")) }
        var part = ByteBuffer()
        Multipart.writePartHead(boundary: boundary, first: false, fields: fields, to: &part)
        try await output.write(part)
        try await sendEvents(output, path: meta.path, from: position, meta: meta, encoding: encoding,
                             clientCursor: clientCursor, epilogue: close, follow: follow)
    }
}

/// The `multipart/mixed` framing of `/bootstrap` (RFC 2046 §5.1.1).
enum Multipart {
    /// A boundary no part's bytes can contain by chance: 32 random hex digits.
    static func makeBoundary() -> String {
        "runnel-" + (0..<4).map { _ in String(UInt32.random(in: .min ... .max), radix: 16).leftPadded(to: 8) }.joined()
    }

    /// `--boundary` and the part's header fields, then the blank line before its body. Every
    /// part after the first starts on a new line (the CRLF belongs to the delimiter).
    static func writePartHead(boundary: String, first: Bool, fields: [(String, String)], to out: inout ByteBuffer) {
        out.writeString(first ? "--\(boundary)\r\n" : "\r\n--\(boundary)\r\n")
        for (name, value) in fields { out.writeString("\(name): \(value)\r\n") }
        out.writeString("\r\n")
    }

    static func closingDelimiter(_ boundary: String) -> ByteBuffer {
        ByteBuffer(string: "\r\n--\(boundary)--\r\n")
    }
}
