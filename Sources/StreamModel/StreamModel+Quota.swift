/// Per-bucket stored-bytes limits (issue 17 "Quotas", docs/access-control.md "Bucket storage
/// limit"). The limit is replicated bucket metadata and the usage it is compared with is
/// derived from the applied state, so every replica refuses exactly the same writes, at the
/// same point of the log.
extension StreamModel {
    /// Sets (or with `nil` clears) `name`'s limit. A limit below what the bucket already
    /// stores is allowed: nothing is dropped, writes are refused until usage falls below it.
    mutating func setBucketLimit(_ name: String, maxStoredBytes: UInt64?, effects: inout ApplyEffects) throws(ModelError) -> CommandResult {
        guard var bucket = buckets[name] else { throw ModelError(.bucketNotFound, "bucket \(name) does not exist") }
        if bucket.maxStoredBytes != maxStoredBytes {
            bucket.maxStoredBytes = maxStoredBytes
            buckets[name] = bucket
            effects.changedBuckets.insert(name)
        }
        return .bucketLimitSet
    }

    /// Refuses a write that would store `count` more bytes in `bucket` past its limit. Run
    /// after every check that can turn the write into a duplicate or another refusal, and
    /// before anything changes, so a refusal changes nothing and a retry of an accepted write
    /// still answers as a duplicate. A write of no bytes (a close) always passes.
    func ensureBucketRoom(_ bucket: String, adding count: Int) throws(ModelError) {
        try buckets[bucket]?.checkRoom(storing: storedBytes(ofBucket: bucket), adding: count)
    }
}

extension BucketMeta {
    /// Whether `count` more bytes fit in the bucket when it stores `stored`: the rule the
    /// state machine applies, and the proposer's early refusal of a snapshot upload (whose
    /// chunks, refused half-way, would count until the upload expires). A write of no bytes
    /// always fits.
    public func checkRoom(storing stored: UInt64, adding count: Int) throws(ModelError) {
        guard count > 0, let limit = maxStoredBytes else { return }
        // In 128 bits: neither the sum nor the comparison can overflow.
        guard UInt128(stored) + UInt128(count) > UInt128(limit) else { return }
        throw ModelError(.bucketQuotaExceeded,
                         "bucket \(name) stores \(stored) bytes of its \(limit)-byte limit; \(count) more do not fit")
    }
}
