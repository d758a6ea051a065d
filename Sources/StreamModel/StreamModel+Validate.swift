extension StreamModel {
    /// Checks what a command carries that does not depend on the state: names, producer
    /// tuples. The HTTP layer refuses all of these with a 400 before proposing, so a
    /// rejection here means the command did not come through it (a hostile or damaged log
    /// entry); it is still only a rejection, the same on every replica, never a trap.
    static func validate(_ command: Command) throws(ModelError) {
        switch command {
        case .createBucket(let name), .deleteBucket(let name), .setBucketLimit(let name, _):
            try validateBucket(name)
        case .create(let create):
            try validate(create.path)
            if let fork = create.fork { try validate(fork.source) }
        case .append(let append):
            try validate(append.path)
            if let producer = append.producer { try validate(producer) }
        case .delete(let path):
            try validate(path)
        case .touch(let paths):
            for path in paths { try validate(path) }
        case .expire:
            break
        case .snapshotChunk(let chunk):
            try validate(chunk.path)
        case .publishSnapshot(let publish):
            try validate(publish.path)
        case .deleteSnapshot(let path, _), .retain(let path, _):
            try validate(path)
        case .createKey, .revokeKey:
            break
        }
    }

    static func validateBucket(_ name: String) throws(ModelError) {
        // Bucket names are ASCII, so the `buckets` map keyed by `String` is keyed by bytes.
        guard Identifiers.isValidBucket(name) else { throw ModelError(.invalidBucket, "invalid bucket name") }
    }

    static func validate(_ path: StreamPath) throws(ModelError) {
        try validateBucket(path.bucket)
        // The most permissive form any route family admits (`/` after the bucket on `/v1/stream/`).
        guard Identifiers.isValidStreamName(path.name, allowSlash: true) else {
            throw ModelError(.invalidCommand, "invalid stream name")
        }
    }

    static func validate(_ producer: ProducerTuple) throws(ModelError) {
        guard Identifiers.isValidProducerID(producer.id) else {
            throw ModelError(.invalidProducerID,
                             "Producer-Id must be 1 to \(Identifiers.maxProducerIDBytes) bytes of UTF-8")
        }
        guard producer.epoch <= ProducerLimits.maxNumber, producer.seq <= ProducerLimits.maxNumber else {
            throw ModelError(.invalidCommand, "Producer-Epoch and Producer-Seq must be at most 2^53-1")
        }
    }

    /// Refuses a write of `count` more stored bytes that would move `tail` past the largest
    /// position an offset can name (`Offset.maxPosition`), before anything is changed.
    static func ensureRoom(after tail: Offset, adding count: Int) throws(ModelError) {
        let (end, overflow) = tail.position.addingReportingOverflow(UInt64(count))
        guard !overflow, end <= Offset.maxPosition else {
            throw ModelError(.capacityExhausted, "the stream would pass the largest offset, \(Offset.maxPosition)")
        }
    }
}

extension UInt64 {
    /// `self - 1`, or 0 at 0: for derived counts whose decrement must never trap.
    func decrementedSaturating() -> UInt64 { self == 0 ? 0 : self - 1 }
}
