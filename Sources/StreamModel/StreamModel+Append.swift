extension StreamModel {
    /// `POST` (protocol §4, §4.1, §5): append, close, or append-and-close, with idempotent
    /// producers and `Stream-Seq`. Checks run in the reference server's order: existence,
    /// closure, content type, producer, then `Stream-Seq`; state changes only on success.
    mutating func appendStream(_ request: AppendStream, now: Int64, effects: inout ApplyEffects) throws(ModelError) -> AppendOutcome {
        guard var meta = resolve(request.path, now: now, effects: &effects) else {
            throw ModelError(.streamNotFound, "stream \(request.path) does not exist")
        }
        guard !meta.softDeleted else { throw ModelError(.streamGone, "stream \(request.path) was deleted") }
        if let ifMatch = request.ifMatch, !Self.etagMatches(ifMatch, meta) {
            throw preconditionFailed(meta)
        }
        let closeOnly = request.body.isEmpty
        guard !closeOnly || request.close else { throw ModelError(.emptyBody, "an append needs a non-empty body") }

        if meta.closed {
            if let producer = request.producer, producer == meta.closedBy {
                // A retry of the request that closed the stream: same answer, nothing written.
                return AppendOutcome(nextOffset: meta.tail, closed: true, producerEpoch: producer.epoch,
                                     producerSeq: producer.seq, duplicate: true, wroteData: false)
            }
            if closeOnly && request.producer == nil {
                return AppendOutcome(nextOffset: meta.tail, closed: true, producerEpoch: nil, producerSeq: nil,
                                     duplicate: false, wroteData: false)
            }
            var error = ModelError(.streamClosed, "stream \(request.path) is closed")
            error.closed = true
            error.nextOffset = meta.tail
            throw error
        }

        if !closeOnly {
            let requestType = request.contentType ?? ""
            guard MediaType.matches(requestType, meta.contentType) else {
                throw ModelError(.contentTypeMismatch, "Content-Type \(requestType) does not match the stream's \(meta.contentType)")
            }
            try Self.checkBodyForm(request.body, json: meta.isJSON)
        }

        var producerState: ProducerState?
        if let producer = request.producer {
            switch try checkProducer(producer, meta: meta, now: now) {
            case .duplicate(let state):
                return AppendOutcome(nextOffset: meta.tail, closed: meta.closed, producerEpoch: state.epoch,
                                     producerSeq: state.lastSeq, duplicate: true, wroteData: false)
            case .accept:
                producerState = ProducerState(epoch: producer.epoch, lastSeq: producer.seq, lastUsedAt: now)
            }
        }
        let unit = closeOnly ? [] : StoredUnit.encode(request.body)
        try Self.ensureRoom(after: meta.tail, adding: unit.count)

        if let seq = request.streamSeq {
            if let last = meta.lastStreamSeq, Array(seq.utf8).lexicographicallyPrecedesOrEqual(Array(last.utf8)) {
                throw ModelError(.streamSeqConflict, "Stream-Seq \(seq) is not greater than the last one, \(last)")
            }
            meta.lastStreamSeq = seq
        }
        try ensureBucketRoom(request.path.bucket, adding: unit.count)

        if let producer = request.producer, let producerState {
            if meta.producers[producer.key] == nil && meta.producers.count >= ProducerLimits.maxPerStream {
                // A new producer needs a slot: idle ones are forgotten, if that makes room
                // (checked first, so a refusal changes nothing).
                let idle = meta.producers.values.count { $0.isIdle(at: now) }
                guard meta.producers.count - idle < ProducerLimits.maxPerStream else {
                    throw ModelError(.producerLimit,
                                     "stream \(request.path) already has \(ProducerLimits.maxPerStream) active producers")
                }
                forgetIdleProducers(of: &meta, now: now, effects: &effects)
            }
            meta.producers[producer.key] = producerState
            effects.changedProducers.insert(.init(streamID: meta.id, producer: producer.key))
        }
        if !closeOnly {
            writeUnit(unit, messages: request.body.messageCount, to: &meta, effects: &effects)
        }
        if request.close {
            meta.closed = true
            meta.closedBy = request.producer
            effects.wake.insert(meta.id)
        }
        meta.lastWriteAt = now
        meta.lastAccessAt = max(meta.lastAccessAt, now)
        store(meta, effects: &effects)
        return AppendOutcome(nextOffset: meta.tail, closed: meta.closed, producerEpoch: request.producer?.epoch,
                             producerSeq: request.producer?.seq, duplicate: false, wroteData: !closeOnly)
    }

    enum ProducerDecision {
        case accept
        case duplicate(ProducerState)
    }

    /// The epoch/sequence rules of idempotent producers (protocol §4.1). A producer idle
    /// past `ProducerLimits.idleExpiryMilliseconds` counts as unknown.
    func checkProducer(_ producer: ProducerTuple, meta: StreamMeta, now: Int64) throws(ModelError) -> ProducerDecision {
        guard let state = meta.producers[producer.key], !state.isIdle(at: now) else {
            // A new producer starts at seq 0, whatever its epoch.
            guard producer.seq == 0 else { throw sequenceGap(expected: 0, received: producer.seq) }
            return .accept
        }
        if producer.epoch < state.epoch {
            var error = ModelError(.producerStaleEpoch, "producer epoch \(producer.epoch) is older than \(state.epoch)")
            error.currentEpoch = state.epoch
            throw error
        }
        if producer.epoch > state.epoch {
            guard producer.seq == 0 else {
                throw ModelError(.producerEpochSeq, "a new producer epoch must start at Producer-Seq 0")
            }
            return .accept
        }
        if producer.seq <= state.lastSeq { return .duplicate(state) }
        let (expected, overflow) = state.lastSeq.addingReportingOverflow(1)
        if !overflow && producer.seq == expected { return .accept }
        throw sequenceGap(expected: overflow ? state.lastSeq : expected, received: producer.seq)
    }

    /// Forgets `meta`'s producers that have been idle past the expiry, in id order.
    mutating func forgetIdleProducers(of meta: inout StreamMeta, now: Int64, effects: inout ApplyEffects) {
        let idle = meta.producers.filter { $0.value.isIdle(at: now) }.keys.sorted()
        for id in idle {
            meta.producers[id] = nil
            effects.changedProducers.insert(.init(streamID: meta.id, producer: id))
        }
    }

    private func sequenceGap(expected: UInt64, received: UInt64) -> ModelError {
        var error = ModelError(.producerSeqGap, "expected Producer-Seq \(expected), received \(received)")
        error.expectedSeq = expected
        error.receivedSeq = received
        return error
    }
}

extension Array where Element == UInt8 {
    /// Bytewise lexicographic `self <= other` (how `Stream-Seq` values compare, protocol §2.1).
    func lexicographicallyPrecedesOrEqual(_ other: [UInt8]) -> Bool {
        !other.lexicographicallyPrecedes(self)
    }
}
