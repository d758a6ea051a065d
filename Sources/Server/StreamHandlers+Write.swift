import HTTPTypes
import Hummingbird
import Replication
import Storage
import StreamModel

extension RunnelResponder {
    /// `PUT` — create, idempotent re-create, or fork (protocol §3, §3.1).
    func create(_ request: Request, family: RouteFamily, path: StreamPath) async throws -> Response {
        let headers = request.headers
        let contentType = try parseContentType(headers)
        let expiry = try parseExpiry(headers)
        let closed = try isTrue(headers, .streamClosed)
        let ifMatch = try optionalHeader(headers, .ifMatch)

        var fork: ForkRequest?
        let subOffsetText = try optionalHeader(headers, .streamForkSubOffset)
        let forkOffsetText = try optionalHeader(headers, .streamForkOffset)
        if let source = try optionalHeader(headers, .streamForkedFrom) {
            guard case .stream(_, let sourcePath) = Route(path: source) else {
                throw APIError.badRequest("invalid_fork_source", "Stream-Forked-From must be a stream path on this server")
            }
            var offset: Offset?
            if let forkOffsetText {
                guard let parsed = Offset(forkOffsetText) else {
                    throw APIError.badRequest("invalid_fork_offset", "malformed Stream-Fork-Offset")
                }
                offset = parsed
            }
            var subOffset: UInt64 = 0
            if let subOffsetText {
                guard let parsed = parseCanonicalUInt(subOffsetText) else {
                    throw APIError.badRequest("invalid_fork_sub_offset", "malformed Stream-Fork-Sub-Offset")
                }
                subOffset = parsed
            }
            fork = try await prepareFork(source: sourcePath, offset: offset, subOffset: subOffset)
        } else if forkOffsetText != nil || subOffsetText != nil {
            throw APIError.badRequest("fork_header_without_source", "fork headers need Stream-Forked-From")
        }

        let raw = try await readBody(request)
        let jsonMode: Bool
        if let contentType {
            jsonMode = MediaType.isJSON(contentType)
        } else if let fork {
            jsonMode = store.stream(at: fork.source, now: now())?.isJSON ?? false
        } else {
            jsonMode = false
        }
        let body: Body = raw.isEmpty ? .empty : jsonMode ? .json(try JSONMessages.flatten(raw)) : .bytes(raw)

        let command = CreateStream(
            path: path, contentType: contentType, expiry: expiry, closed: closed, body: body, fork: fork,
            createBucket: family == .v1, ifMatch: ifMatch)
        guard case .created(let outcome) = try await propose(.create(command)) else {
            throw APIError(.internalServerError, "unexpected_result", "create returned an unexpected result")
        }
        var fields = HTTPFields()
        fields[.contentType] = outcome.contentType
        fields[.streamNextOffset] = outcome.nextOffset.description
        if outcome.closed { fields[.streamClosed] = "true" }
        if outcome.created { fields[.location] = absoluteURL(request, family: family, path: path) }
        return response(outcome.created ? .created : .ok, headers: fields)
    }

    /// Resolves a fork's sub-offset against the source's stored data (protocol §3.1): the
    /// command then carries the materialized prefix, so applying it needs no reads.
    private func prepareFork(source: StreamPath, offset: Offset?, subOffset: UInt64) async throws -> ForkRequest {
        // A JSON fork starts at a message boundary (protocol §3.1, §9).
        if let offset, let meta = store.stream(at: source, now: now()), !meta.softDeleted, offset <= meta.tail,
           !(try await isMessageBoundary(meta, at: offset)) {
            throw APIError.badRequest("fork_offset_not_message_boundary",
                                      "Stream-Fork-Offset \(offset) is inside a JSON message of the source")
        }
        guard subOffset > 0 else { return ForkRequest(source: source, offset: offset) }
        guard let meta = store.stream(at: source, now: now()) else {
            throw ModelError(.forkSourceNotFound, "fork source \(source) does not exist")
        }
        guard !meta.softDeleted else { throw ModelError(.forkSourceGone, "fork source \(source) was deleted") }
        let anchor = offset ?? meta.tail
        guard anchor < meta.tail else {
            throw ModelError(.forkSubOffsetInvalid, "no data after the fork offset for a sub-offset to count into")
        }
        guard let unit = try await blocking({ [store] in try store.unit(of: meta, at: anchor) }) else {
            throw ModelError(.forkSubOffsetInvalid, "the fork offset is not at the start of a data unit")
        }
        guard let prefix = StoredUnit.prefix(of: unit, count: subOffset, json: meta.isJSON) else {
            throw ModelError(.forkSubOffsetInvalid, "Stream-Fork-Sub-Offset \(subOffset) overshoots the data unit")
        }
        return ForkRequest(source: source, offset: offset, subOffset: subOffset, materializedPrefix: prefix, sourceID: meta.id)
    }

    /// `POST` — append, close, or append-and-close (protocol §4, §5).
    func append(_ request: Request, path: StreamPath) async throws -> Response {
        // Header checks come before the body is read (protocol §4 "Where producer checks fall").
        let headers = try appendHeaders(request.headers)
        let raw = try await readBody(request)
        let command = try appendCommand(headers, path: path, body: raw)
        guard case .appended(let outcome) = try await propose(.append(command)) else {
            throw APIError(.internalServerError, "unexpected_result", "append returned an unexpected result")
        }
        let (status, fields) = appendAnswer(outcome, producer: headers.producer)
        return response(status, headers: fields)
    }

    /// What an append's headers say, checked before its body is read.
    struct AppendHeaders {
        var producer: ProducerTuple?
        var close: Bool
        var streamSeq: String?
        var ifMatch: String?
        var contentType: String?
    }

    func appendHeaders(_ headers: HTTPFields) throws -> AppendHeaders {
        AppendHeaders(producer: try parseProducer(headers), close: try isTrue(headers, .streamClosed),
                      streamSeq: try optionalHeader(headers, .streamSeq), ifMatch: try optionalHeader(headers, .ifMatch),
                      contentType: try parseContentType(headers))
    }

    /// The append command of checked headers and a body (shared by this handler and
    /// `AppendFastPath`, so both refuse the same bodies with the same answers).
    func appendCommand(_ headers: AppendHeaders, path: StreamPath, body raw: [UInt8]) throws -> AppendStream {
        if raw.isEmpty && !headers.close {
            throw APIError.badRequest("empty_body", "an append needs a non-empty body (or Stream-Closed: true)")
        }
        var body = Body.empty
        if !raw.isEmpty {
            guard let contentType = headers.contentType else {
                throw APIError.badRequest("missing_content_type", "an append with a body needs a Content-Type")
            }
            if MediaType.isJSON(contentType) {
                let messages = try JSONMessages.flatten(raw)
                guard !messages.isEmpty else {
                    throw APIError.badRequest("empty_json_array", "an empty JSON array appends nothing")
                }
                body = .json(messages)
            } else {
                body = .bytes(raw)
            }
        }
        return AppendStream(path: path, contentType: headers.contentType, body: body, close: headers.close,
                            producer: headers.producer, streamSeq: headers.streamSeq, ifMatch: headers.ifMatch)
    }

    /// The status and headers that answer an applied append.
    func appendAnswer(_ outcome: AppendOutcome, producer: ProducerTuple?) -> (HTTPResponse.Status, HTTPFields) {
        var fields = HTTPFields()
        fields[.streamNextOffset] = outcome.nextOffset.description
        if outcome.closed { fields[.streamClosed] = "true" }
        if let epoch = outcome.producerEpoch { fields[.producerEpoch] = String(epoch) }
        if let seq = outcome.producerSeq { fields[.producerSeq] = String(seq) }
        // 200 only for new data from an idempotent producer; plain appends, close-only and
        // duplicates answer 204 (protocol §4).
        let status: HTTPResponse.Status = producer != nil && outcome.wroteData && !outcome.duplicate ? .ok : .noContent
        return (status, fields)
    }

    /// `DELETE` (protocol §6).
    func delete(_ path: StreamPath) async throws -> Response {
        _ = try await propose(.delete(path))
        return response(.noContent)
    }

    // MARK: Header parsing

    /// The longest accepted `Producer-Id`, in bytes of UTF-8. The protocol sets no bound; the
    /// id is kept in every stream's producer state, so an unbounded one would let a client
    /// grow it at will.
    static let maxProducerIDBytes = 256

    /// The largest `Stream-TTL`: the expiry is kept in milliseconds as an `Int64`, so any
    /// larger value could not be represented (and is meaningless).
    static let maxTTLSeconds = UInt64(Int64.max / 1000)

    func optionalHeader(_ headers: HTTPFields, _ name: HTTPField.Name) throws -> String? {
        switch headers.single(name) {
        case .absent: return nil
        case .value(let value): return value
        case .repeated: throw APIError.badRequest("repeated_header", "\(name) must appear at most once")
        }
    }

    /// `Stream-Closed` counts only when it is exactly `true`, case-insensitively (protocol §2.1).
    /// It is single-valued: a repeated header (`false` then `true`) is a 400, never a close.
    func isTrue(_ headers: HTTPFields, _ name: HTTPField.Name) throws -> Bool {
        try optionalHeader(headers, name)?.lowercased() == "true"
    }

    /// `Content-Type`, single-valued and free of bytes that are not UTF-8 text: the HTTP
    /// parser turns invalid UTF-8 into U+FFFD, and control characters never belong in a
    /// media type (RFC 9110 §8.3).
    func parseContentType(_ headers: HTTPFields) throws -> String? {
        guard let value = try optionalHeader(headers, .contentType) else { return nil }
        guard HeaderText.isClean(value) else {
            throw APIError.badRequest("invalid_content_type", "Content-Type must be printable UTF-8 text")
        }
        return value
    }

    private func parseExpiry(_ headers: HTTPFields) throws -> Expiry {
        let ttl = try optionalHeader(headers, .streamTTL)
        let expiresAt = try optionalHeader(headers, .streamExpiresAt)
        switch (ttl, expiresAt) {
        case (nil, nil):
            return .never
        case (let ttl?, nil):
            guard let seconds = parseCanonicalUInt(ttl, maximum: Self.maxTTLSeconds) else {
                throw APIError.badRequest("invalid_ttl", "Stream-TTL must be an integer of seconds in 0...\(Self.maxTTLSeconds)")
            }
            return .ttl(seconds: seconds)
        case (nil, let at?):
            guard let ms = RFC3339.parse(at) else {
                throw APIError.badRequest("invalid_expires_at", "Stream-Expires-At must be an RFC 3339 timestamp")
            }
            // A stream that would be expired on creation is a client mistake, not a 201
            // followed by 404s.
            guard ms > now() else {
                throw APIError.badRequest("expires_at_in_past", "Stream-Expires-At must be in the future")
            }
            return .at(milliseconds: ms)
        default:
            throw APIError.badRequest("ttl_and_expires_at", "send Stream-TTL or Stream-Expires-At, not both")
        }
    }

    /// The three producer headers together or not at all (protocol §2.1, §4.1).
    private func parseProducer(_ headers: HTTPFields) throws -> ProducerTuple? {
        let id = try optionalHeader(headers, .producerId)
        let epoch = try optionalHeader(headers, .producerEpoch)
        let seq = try optionalHeader(headers, .producerSeq)
        if id == nil && epoch == nil && seq == nil { return nil }
        guard let id, let epoch, let seq else {
            throw APIError.badRequest("partial_producer_headers", "Producer-Id, Producer-Epoch and Producer-Seq go together")
        }
        guard !id.isEmpty else { throw APIError.badRequest("invalid_producer_id", "Producer-Id must not be empty") }
        guard id.utf8.count <= Self.maxProducerIDBytes else {
            throw APIError.badRequest("invalid_producer_id", "Producer-Id must be at most \(Self.maxProducerIDBytes) bytes")
        }
        guard HeaderText.isClean(id) else {
            throw APIError.badRequest("invalid_producer_id", "Producer-Id must be printable UTF-8 text")
        }
        let maximum: UInt64 = (1 << 53) - 1
        guard let e = parseDigitsUInt(epoch, maximum: maximum) else {
            throw APIError.badRequest("invalid_producer_epoch", "Producer-Epoch must be an integer in 0...2^53-1")
        }
        guard let s = parseDigitsUInt(seq, maximum: maximum) else {
            throw APIError.badRequest("invalid_producer_seq", "Producer-Seq must be an integer in 0...2^53-1")
        }
        return ProducerTuple(id: id, epoch: e, seq: s)
    }
}
