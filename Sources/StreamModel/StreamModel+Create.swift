extension StreamModel {
    /// `PUT` (protocol §3 and §3.1): create, idempotently re-create, or fork.
    mutating func createStream(_ request: CreateStream, now: Int64, effects: inout ApplyEffects) throws(ModelError) -> CreateOutcome {
        let path = request.path
        // A missing bucket is created on first use (api.md §1), but only once the create has
        // passed every check: a rejected create leaves no bucket behind.
        let createsBucket = buckets[path.bucket] == nil
        if createsBucket {
            guard request.createBucket else { throw ModelError(.bucketNotFound, "bucket \(path.bucket) does not exist") }
            guard Identifiers.isValidBucket(path.bucket) else { throw ModelError(.invalidBucket, "invalid bucket name") }
        }

        if let existing = resolve(path, now: now, effects: &effects) {
            guard !existing.softDeleted else {
                throw ModelError(.configMismatch, "stream \(path) was deleted but is still referenced by forks")
            }
            if let ifMatch = request.ifMatch, !Self.etagMatches(ifMatch, existing) {
                throw preconditionFailed(existing)
            }
            guard sameConfiguration(existing, request) else {
                var error = ModelError(.configMismatch, "stream \(path) exists with a different configuration")
                error.nextOffset = existing.tail
                error.closed = existing.closed
                throw error
            }
            return CreateOutcome(created: false, contentType: existing.contentType, nextOffset: existing.tail, closed: existing.closed)
        }
        if request.ifMatch != nil {
            throw ModelError(.preconditionFailed, "If-Match given but stream \(path) does not exist")
        }

        // Every check that can fail comes before the first change, so a rejected create
        // changes nothing (and no counter can overflow half-way).
        guard nextStreamID < UInt64.max else {
            throw ModelError(.capacityExhausted, "no stream ids are left")
        }
        guard (buckets[path.bucket]?.streamCount ?? 0) < UInt64.max else {
            throw ModelError(.capacityExhausted, "bucket \(path.bucket) holds the most streams it can count")
        }
        var meta = StreamMeta(
            id: nextStreamID, path: path, contentType: request.contentType ?? MediaType.octetStream,
            expiry: request.expiry, createdAt: now, lastWriteAt: now, lastAccessAt: now,
            base: .zero, tail: .zero, closed: false, closedBy: nil, producers: [:], lastStreamSeq: nil,
            fork: nil, forkCount: 0, softDeleted: false)

        var forkSource: StreamMeta?
        if let fork = request.fork {
            guard var source = resolve(fork.source, now: now, effects: &effects) else {
                throw ModelError(.forkSourceNotFound, "fork source \(fork.source) does not exist")
            }
            guard !source.softDeleted else {
                throw ModelError(.forkSourceGone, "fork source \(fork.source) was deleted")
            }
            if let expected = fork.sourceID, expected != source.id {
                throw ModelError(.forkSourceChanged, "fork source \(fork.source) changed while the fork was prepared")
            }
            // Content type is checked before any reference is taken (protocol §3.1).
            if let contentType = request.contentType, !MediaType.matches(contentType, source.contentType) {
                throw ModelError(.contentTypeMismatch, "a fork must have its source's content type \(source.contentType)")
            }
            try Self.checkBodyForm(request.body, json: MediaType.isJSON(source.contentType))
            let offset = fork.offset ?? source.tail
            guard offset <= source.tail else {
                throw ModelError(.forkOffsetInvalid, "fork offset \(offset) is past the source's tail \(source.tail)")
            }
            if fork.subOffset > 0 && (offset >= source.tail || fork.materializedPrefix.isEmpty) {
                throw ModelError(.forkSubOffsetInvalid, "no data after the fork offset for a sub-offset to count into")
            }
            guard source.forkCount < UInt64.max else {
                throw ModelError(.capacityExhausted, "fork source \(fork.source) has the most forks it can count")
            }
            meta.contentType = source.contentType
            meta.base = offset
            meta.tail = offset
            // What the source no longer serves, the fork cannot serve either.
            meta.retained = min(source.retained, offset)
            meta.trimmed = offset
            meta.fork = ForkOrigin(sourceID: source.id, sourcePath: source.path, offset: offset,
                                   offsetGiven: fork.offset != nil, subOffset: fork.subOffset)
            if case .never = request.expiry {
                meta.expiry = source.expiry  // the fork TTL/expiry table of protocol §3.1
            }
            source.forkCount += 1
            forkSource = source
        }
        if !request.body.isEmpty {
            try Self.checkBodyForm(request.body, json: meta.isJSON)
        }
        let prefix = request.fork?.materializedPrefix ?? []
        let bodyUnit = request.body.isEmpty ? [] : StoredUnit.encode(request.body)
        try Self.ensureRoom(after: meta.tail, adding: prefix.count)
        try Self.ensureRoom(after: Offset(position: meta.tail.position + UInt64(prefix.count)), adding: bodyUnit.count)
        // A create stores its body, and a fork its materialized prefix, as an append would.
        try ensureBucketRoom(path.bucket, adding: prefix.count + bodyUnit.count)

        // Nothing below can fail.
        if let forkSource { store(forkSource, effects: &effects) }
        if !prefix.isEmpty {
            writeUnit(prefix, messages: meta.isJSON ? request.fork?.subOffset ?? 1 : 1, to: &meta, effects: &effects)
        }
        if !bodyUnit.isEmpty { writeUnit(bodyUnit, messages: request.body.messageCount, to: &meta, effects: &effects) }
        meta.closed = request.closed
        nextStreamID += 1
        store(meta, effects: &effects)
        if createsBucket {
            buckets[path.bucket] = BucketMeta(name: path.bucket, createdAt: now, streamCount: 0)
        }
        buckets[path.bucket]?.streamCount += 1
        effects.changedBuckets.insert(path.bucket)
        effects.wake.insert(meta.id)
        return CreateOutcome(created: true, contentType: meta.contentType, nextOffset: meta.tail, closed: meta.closed)
    }

    /// The configuration comparison of an idempotent `PUT` (protocol §3): content type
    /// (media type only), expiry, closure, and for forks the source, offset and sub-offset.
    private func sameConfiguration(_ meta: StreamMeta, _ request: CreateStream) -> Bool {
        if let contentType = request.contentType {
            guard MediaType.matches(contentType, meta.contentType) else { return false }
        } else if request.fork == nil && !MediaType.matches(MediaType.octetStream, meta.contentType) {
            return false
        }
        guard meta.closed == request.closed else { return false }
        switch (meta.fork, request.fork) {
        case (nil, nil):
            guard meta.expiry == request.expiry else { return false }
        case (let origin?, let fork?):
            guard origin.sourcePath == fork.source, origin.subOffset == fork.subOffset else { return false }
            if let offset = fork.offset, offset != origin.offset { return false }
            if case .never = request.expiry {} else if meta.expiry != request.expiry { return false }
        default:
            return false
        }
        return true
    }

    /// A non-empty body must be in its stream's form (protocol §9): flattened messages for a
    /// JSON stream, raw bytes otherwise. Unframed bytes in a JSON stream would corrupt its
    /// message framing, and framed messages in a byte stream would corrupt its bytes.
    static func checkBodyForm(_ body: Body, json: Bool) throws(ModelError) {
        switch body {
        case .json(let messages) where !json && !messages.isEmpty:
            throw ModelError(.contentTypeMismatch, "JSON messages for a non-JSON stream")
        case .bytes(let bytes) where json && !bytes.isEmpty:
            throw ModelError(.contentTypeMismatch, "unframed bytes for a JSON stream")
        default:
            return
        }
    }

    /// Stores one data unit (of `messages` messages) at the stream's tail and advances the
    /// tail past it. The caller
    /// has checked with `ensureRoom` that the tail has room for it.
    mutating func writeUnit(_ bytes: [UInt8], messages: UInt64, to meta: inout StreamMeta, effects: inout ApplyEffects) {
        effects.units.append(.init(streamID: meta.id, position: meta.tail.position, bytes: bytes))
        meta.tail.position += UInt64(bytes.count)
        meta.messageCount &+= messages
        effects.wake.insert(meta.id)
    }

    static func etagMatches(_ header: String, _ meta: StreamMeta) -> Bool {
        let tags = header.split(separator: ",").map { $0.trimmingSpaces() }
        return tags.contains("*") || tags.contains(meta.etag) || tags.contains("W/" + meta.etag)
    }

    func preconditionFailed(_ meta: StreamMeta) -> ModelError {
        var error = ModelError(.preconditionFailed, "If-Match does not match the stream's current ETag")
        error.etag = meta.etag
        error.nextOffset = meta.tail
        error.closed = meta.closed
        return error
    }
}
