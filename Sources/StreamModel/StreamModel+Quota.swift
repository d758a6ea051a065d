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
        guard count > 0, let limit = buckets[bucket]?.maxStoredBytes else { return }
        let used = storedBytes(ofBucket: bucket)
        // In 128 bits: neither the sum nor the comparison can overflow.
        guard UInt128(used) + UInt128(count) > UInt128(limit) else { return }
        throw ModelError(.bucketQuotaExceeded,
                         "bucket \(bucket) stores \(used) bytes of its \(limit)-byte limit; \(count) more do not fit")
    }
}
