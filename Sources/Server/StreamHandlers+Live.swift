import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Replication
import Storage
import StreamModel

extension RunnelResponder {
    /// The first offset a read starts at.
    func startOffset(_ readOffset: ReadOffset, _ meta: StreamMeta) -> Offset {
        switch readOffset {
        case .start: .zero
        case .now: meta.tail
        case .at(let offset): offset
        }
    }

    /// The current incarnation at `path`, or the 404/410 a live reader gets when its stream
    /// is deleted (or replaced) under it.
    private func current(_ path: StreamPath, id: UInt64) throws -> StreamMeta {
        let meta = try liveStream(path)
        guard meta.id == id else { throw ModelError(.streamNotFound, "stream \(path) was deleted") }
        return meta
    }

    /// A live reader's read, shared with the other readers woken at the same offset.
    private func liveRead(_ meta: StreamMeta, from: Offset) async throws -> ReadChunk {
        let maxBytes = configuration.readChunkBytes
        return try await waiters.tailReads.read(meta, from: from, maxBytes: maxBytes) { [self] in
            try await blocking { [store] in try store.read(meta, from: from, maxBytes: maxBytes) }
        }
    }

    /// `GET ?live=long-poll` (protocol §8.3): answer at once when there is data after the
    /// offset (or the stream is closed there); otherwise wait for the apply loop to wake us,
    /// up to `--long-poll-timeout`, then 204. A client that disconnects while we wait ends the
    /// wait at once.
    func longPoll(
        _ request: Request, path: StreamPath, readOffset: ReadOffset, meta initial: StreamMeta, connection: any Channel
    ) async throws -> Response {
        let from = startOffset(readOffset, initial)
        guard from <= initial.tail else {
            throw APIError.badRequest("offset_beyond_tail", "offset \(from) is past the stream's tail \(initial.tail)")
        }
        try checkRetained(initial, from: from)
        let cursor = Cursor.next(now: now(), clientCursor: request.uri.queryParameters["cursor"].map(String.init))
        let deadline = ContinuousClock.now + configuration.longPollTimeout
        if let ready = try await longPollAnswer(initial, from: from, cursor: cursor, deadline: deadline) { return ready }
        return try await cancellingWhenPeerCloses(connection) { [self] in
            var meta = initial
            while true {
                let seen = meta
                _ = await waiters.wait(for: meta.id, until: deadline) {
                    let now = store.stream(at: path, now: self.now())
                    return now?.id == seen.id && now?.tail == seen.tail && now?.closed == seen.closed && now?.softDeleted == false
                }
                try Task.checkCancellation()
                meta = try current(path, id: meta.id)
                if let ready = try await longPollAnswer(meta, from: from, cursor: cursor, deadline: deadline) { return ready }
            }
        }
    }

    /// The long-poll response for `meta` as it is now: data after `from`, or 204 when the
    /// stream is closed there or the deadline has passed; nil to keep waiting.
    private func longPollAnswer(_ meta: StreamMeta, from: Offset, cursor: String, deadline: ContinuousClock.Instant) async throws -> Response? {
        if from < meta.tail {
            let chunk = try await liveRead(meta, from: from)
            try checkMessageBoundary(meta, from: from, chunk: chunk)
            var fields = HTTPFields()
            fields[.contentType] = meta.contentType
            fields[.crossOriginResourcePolicy] = "cross-origin"
            fields[.streamNextOffset] = chunk.nextOffset.description
            fields[.streamCursor] = cursor
            if chunk.upToDate { fields[.streamUpToDate] = "true" }
            if meta.closed && chunk.upToDate { fields[.streamClosed] = "true" }
            fields[.eTag] = StreamMeta.etag(id: meta.id, start: from, end: chunk.nextOffset, closed: meta.closed && chunk.upToDate)
            let body = meta.isJSON ? jsonArray(chunk.messages) : chunk.bytes
            return response(.ok, headers: fields, body: body)
        }
        if meta.closed || ContinuousClock.now >= deadline || waiters.isClosing {
            var fields = HTTPFields()
            fields[.streamNextOffset] = meta.tail.description
            fields[.streamUpToDate] = "true"
            if meta.closed { fields[.streamClosed] = "true" } else { fields[.streamCursor] = cursor }
            fields[.cacheControl] = "no-store"
            return response(.noContent, headers: fields)
        }
        return nil
    }

    /// `GET ?live=sse` (protocol §8.4): data and control events as they are applied, woken by
    /// the apply loop; the connection is closed after `sseSessionDuration` so CDNs can
    /// collapse readers, and the client resumes from its last `streamNextOffset`. Writes are
    /// backpressured by the transport and each must be accepted within `sseWriteTimeout`
    /// (`DeadlineWriter`), so a reader that stops reading is disconnected instead of pinning
    /// buffers; a reader that disconnects ends the response at once.
    func serverSentEvents(
        _ request: Request, path: StreamPath, readOffset: ReadOffset, meta initial: StreamMeta, connection: any Channel
    ) async throws -> Response {
        let from = startOffset(readOffset, initial)
        guard from <= initial.tail else {
            throw APIError.badRequest("offset_beyond_tail", "offset \(from) is past the stream's tail \(initial.tail)")
        }
        try checkRetained(initial, from: from)
        let clientCursor = request.uri.queryParameters["cursor"].map(String.init)
        guard try await isMessageBoundary(initial, at: from) else {
            throw APIError.badRequest("offset_not_message_boundary",
                                      "offset \(from) is inside a JSON message; read from a message boundary")
        }
        var fields = HTTPFields()
        fields[.contentType] = "text/event-stream"
        fields[.cacheControl] = "no-cache"
        fields[.crossOriginResourcePolicy] = "cross-origin"
        fields[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let encoding = SSEEncoding(contentType: initial.contentType)
        if encoding == .base64 { fields[.streamSSEDataEncoding] = "base64" }
        var headers = HTTPFields.standard
        headers.append(contentsOf: fields)

        let follow = fanoutChannel(connection)
        let body = ResponseBody { [self] writer in
            let output = DeadlineWriter(writer, timeout: configuration.sseWriteTimeout)
            do {
                try await cancellingWhenPeerCloses(connection) { [self] in
                    try await output.guarding { [self] in
                        try await sendEvents(output, path: path, from: from, meta: initial, encoding: encoding, clientCursor: clientCursor,
                                             follow: follow)
                    }
                }
            } catch let error as DeadlineWriter.Timeout {
                metrics.sseWriteTimedOut()
                logger.debug("closing an SSE reader that does not read", metadata: ["stream.path": "\(path)", "error": "\(error)"])
                throw error
            }
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The channel an SSE response may be written to by `SSEFanout`, or nil: when the fan-out
    /// is off, or when the response's bytes are counted against a byte rate (the count wraps
    /// the response body, which the fan-out's writes would pass by). Asked while dispatching,
    /// where the request's `ByteMeter` is set.
    func fanoutChannel(_ connection: any Channel) -> (any Channel)? {
        configuration.sseFanout && ByteMeter.current == nil ? connection : nil
    }

    /// The SSE session: catch up, then follow the stream until it closes, the session ends, the
    /// stream is deleted or the task is cancelled (the client went away). `epilogue` is
    /// written before the body ends (the closing delimiter of a bootstrap's multipart body).
    /// With `follow`, the response's channel, the reader is followed at the tail by
    /// `SSEFanout` (which writes to that channel) rather than woken to write for itself.
    func sendEvents(
        _ writer: DeadlineWriter, path: StreamPath, from: Offset, meta initial: StreamMeta, encoding: SSEEncoding,
        clientCursor: String?, epilogue: ByteBuffer? = nil, follow: (any Channel)? = nil
    ) async throws {
        let sessionEnd = ContinuousClock.now + configuration.sseSessionDuration
        var meta = initial
        var position = from
        let cursor = Cursor.next(now: now(), clientCursor: clientCursor)
        var first = true
        while true {
            // Everything available now, in chunks, each followed by a control event.
            repeat {
                let chunk = try await liveRead(meta, from: position)
                var out = ByteBuffer()
                if chunk.bytes.readableBytes > 0 || !chunk.messages.isEmpty {
                    SSE.writeData(chunk, json: meta.isJSON, encoding: encoding, to: &out)
                }
                position = chunk.nextOffset
                let closed = meta.closed && chunk.upToDate
                if first || out.readableBytes > 0 || closed {
                    SSE.writeControl(next: position, cursor: closed ? nil : cursor, upToDate: chunk.upToDate, closed: closed, to: &out)
                    try await writer.write(out)
                }
                first = false
                if closed {
                    try await writer.finish(epilogue)
                    return
                }
            } while position < meta.tail
            if let follow {
                position = await waiters.fanout.follow(meta, from: position, cursor: cursor, encoding: encoding,
                                                       channel: follow, sessionEnd: sessionEnd)
                try Task.checkCancellation()
                if ContinuousClock.now >= sessionEnd || waiters.isClosing { break }
            } else {
                let seen = meta
                let changed = await waiters.wait(for: meta.id, until: sessionEnd) {
                    let now = store.stream(at: path, now: self.now())
                    return now?.id == seen.id && now?.tail == seen.tail && now?.closed == seen.closed && now?.softDeleted == false
                }
                try Task.checkCancellation()
                if !changed && (ContinuousClock.now >= sessionEnd || waiters.isClosing) { break }
            }
            guard let next = try? current(path, id: meta.id) else { break }
            meta = next
        }
        try await writer.finish(epilogue)
    }
}

/// How SSE data events carry the stream's bytes (protocol §8.4).
public enum SSEEncoding: Equatable, Sendable {
    case text
    case base64

    /// Text for textual media types, base64 for everything else.
    public init(contentType: String) {
        self = MediaType.isTextual(contentType) ? .text : .base64
    }
}

/// The SSE wire format: `event: data` / `event: control`, one `data:` line per payload line
/// (split on CRLF, CR and LF, so payloads cannot inject events), no space after `data:`.
public enum SSE {
    /// Appends one `event: data` event carrying `chunk` to `out`. Public for the
    /// micro-benchmarks in `Benchmarks/`.
    public static func writeData(_ chunk: ReadChunk, json: Bool, encoding: SSEEncoding, to out: inout ByteBuffer) {
        out.writeString("event: data\n")
        if json {
            var text: [UInt8] = []
            text.reserveCapacity(chunk.messages.contentBytes + max(1, chunk.messages.count) + 1)
            JSONArray.write(chunk.messages) { text.append(contentsOf: $0) }
            text.withUnsafeBytes { writeLines($0, to: &out) }
        } else if encoding == .base64 {
            out.writeString("data:")
            out.writeString(Data(chunk.bytes.readableBytesView).base64EncodedString())
            out.writeString("\n")
        } else {
            chunk.bytes.withUnsafeReadableBytes { writeLines($0, to: &out) }
        }
        out.writeString("\n")
    }

    static func writeLines(_ bytes: UnsafeRawBufferPointer, to out: inout ByteBuffer) {
        var start = 0
        var i = 0
        while i <= bytes.count {
            if i == bytes.count || bytes[i] == 0x0A || bytes[i] == 0x0D {
                out.writeString("data:")
                out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
                out.writeString("\n")
                if i < bytes.count, bytes[i] == 0x0D, i + 1 < bytes.count, bytes[i + 1] == 0x0A { i += 1 }
                start = i + 1
            }
            i += 1
        }
    }

    static func writeControl(next: Offset, cursor: String?, upToDate: Bool, closed: Bool, to out: inout ByteBuffer) {
        var json = "{\"streamNextOffset\":\"\(next)\""
        if let cursor { json += ",\"streamCursor\":\"\(cursor)\"" }
        if upToDate || closed { json += ",\"upToDate\":true" }
        if closed { json += ",\"streamClosed\":true" }
        json += "}"
        out.writeString("event: control\ndata:\(json)\n\n")
    }
}
