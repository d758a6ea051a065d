import StreamModel
import Synchronization

/// A token bucket: `rate` tokens a second up to `capacity`, starting full. Pure (time is
/// given), so it can be tested without a clock.
struct TokenBucket: Sendable {
    private(set) var tokens: Double
    private var updated: Int64

    init(capacity: Double, now: Int64) {
        tokens = capacity
        updated = now
    }

    /// Adds what `rate` earned since the last call, up to `capacity`.
    mutating func refill(rate: Double, capacity: Double, now: Int64) {
        if now > updated {
            tokens = min(capacity, tokens + Double(now - updated) / 1e9 * rate)
            updated = now
        }
    }

    /// Takes `count` tokens if there are that many.
    mutating func take(_ count: Double) -> Bool {
        guard tokens >= count else { return false }
        tokens -= count
        return true
    }

    /// Takes `count` tokens whatever is left: a debt is repaid before the next admission.
    mutating func charge(_ count: Double) { tokens -= count }

    /// Forgives any debt beyond `floor` tokens.
    mutating func limitDebt(to floor: Double) { tokens = max(tokens, floor) }

    /// Whole seconds until `rate` has earned `count` tokens (at least 1).
    func secondsUntil(_ count: Double, rate: Double) -> Int {
        let missing = count - tokens
        guard missing > 0, rate > 0 else { return 1 }
        return Int(min(86_400, max(1, (missing / rate).rounded(.up))))
    }
}

/// Per-credential request and byte rates (docs/access-control.md "Quotas"), each node on its
/// own: a credential that spreads its requests over n nodes may go up to n times as fast.
///
/// A request takes one request token when it is admitted; its body bytes (request and
/// response) are charged as they pass, and may run into debt (a large read is not cut short),
/// which the next request waits out. A request is admitted only while the byte bucket is not
/// in debt. Each bucket holds one second of its rate.
final class RateLimiter: Sendable {
    enum Refusal: Equatable {
        case requestRate(retryAfter: Int)
        case byteRate(retryAfter: Int)
    }

    private struct Entry {
        var requests: TokenBucket
        var bytes: TokenBucket
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// Credentials tracked at once. JWT subjects are not bounded by anything else, so when the
    /// table is full it is emptied: everyone starts again from a full bucket (a burst of one
    /// second), rather than the table growing without bound.
    static let maxEntries = 100_000

    /// Admits one request of `id` at `now` (nanoseconds of a monotonic clock), or says which
    /// rate refuses it and after how many seconds to retry.
    func admit(_ id: String, _ rates: KeyRates, now: Int64) -> Refusal? {
        entries.withLock { entries in
            if entries[id] == nil, entries.count >= Self.maxEntries { entries.removeAll(keepingCapacity: true) }
            var entry = entries[id] ?? Entry(requests: TokenBucket(capacity: max(1, Double(rates.requestsPerSecond ?? 1)), now: now),
                                             bytes: TokenBucket(capacity: Double(rates.bytesPerSecond ?? 0), now: now))
            defer { entries[id] = entry }
            if let rate = rates.bytesPerSecond.map { Double($0) } {
                entry.bytes.refill(rate: rate, capacity: rate, now: now)
                guard entry.bytes.tokens >= 0 else { return .byteRate(retryAfter: entry.bytes.secondsUntil(0, rate: rate)) }
            }
            if let rate = rates.requestsPerSecond.map { Double($0) } {
                entry.requests.refill(rate: rate, capacity: max(1, rate), now: now)
                guard entry.requests.take(1) else { return .requestRate(retryAfter: entry.requests.secondsUntil(1, rate: rate)) }
            }
            return nil
        }
    }

    /// Charges `bytes` of body to `id`'s byte rate.
    func charge(_ id: String, bytes: Int, rate: UInt64, now: Int64) {
        guard bytes > 0 else { return }
        entries.withLock { entries in
            guard var entry = entries[id] else { return }
            entry.bytes.refill(rate: Double(rate), capacity: Double(rate), now: now)
            entry.bytes.charge(Double(bytes))
            entries[id] = entry
        }
    }
}

/// Failed authentications per client address (docs/access-control.md "Invalid
/// credentials"). Checking a JWT that is not in the cache costs a signature verification (up
/// to tens of microseconds for RS256 or ES256); an address past its budget of failures gets
/// 429 for such tokens without the check, until the budget refills. Tokens already known
/// good (cached JWTs) and the cheap checks (API keys, the admin token) are still served.
final class AuthFailureLimiter: Sendable {
    let rate: Double
    let burst: Double
    private let buckets = Mutex<[String: TokenBucket]>([:])
    static let maxAddresses = 100_000

    init(perSecond rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// Seconds until `address` may try an expensive check again; nil when it may now.
    func blocked(_ address: String, now: Int64) -> Int? {
        buckets.withLock { buckets in
            guard var bucket = buckets[address] else { return nil }
            bucket.refill(rate: rate, capacity: burst, now: now)
            buckets[address] = bucket
            return bucket.tokens >= 1 ? nil : bucket.secondsUntil(1, rate: rate)
        }
    }

    /// Records one failed authentication from `address`.
    func failed(_ address: String, now: Int64) {
        buckets.withLock { buckets in
            if buckets[address] == nil, buckets.count >= Self.maxAddresses { buckets.removeAll(keepingCapacity: true) }
            var bucket = buckets[address] ?? TokenBucket(capacity: burst, now: now)
            bucket.refill(rate: rate, capacity: burst, now: now)
            bucket.charge(1)
            // Never deeper than one burst in debt: a client that stops failing is served again
            // within burst/rate seconds.
            bucket.limitDebt(to: -burst)
            buckets[address] = bucket
        }
    }
}

/// The node's rate state: per-credential rates and per-address authentication failures.
final class RequestQuotas: Sendable {
    let rates = RateLimiter()
    let failures: AuthFailureLimiter
    /// API key tokens already parsed, with their id and secret hash (the key itself is looked
    /// up on every request, so a revocation holds at once). Emptied when full.
    let keyTokens = Mutex<[String: (id: String, secretHash: [UInt8])]>([:])
    static let maxKeyTokens = 10_000

    init(_ access: AccessConfiguration) {
        failures = AuthFailureLimiter(perSecond: access.authFailuresPerSecond, burst: access.authFailureBurst)
    }
}

/// Counts a request's body bytes, both ways, against its credential's byte rate. Carried in
/// a task-local, so the one place that reads request bodies (`readBody`) charges it.
struct ByteMeter: Sendable {
    @TaskLocal static var current: ByteMeter?

    let limiter: RateLimiter
    let id: String
    let rate: UInt64

    func charge(_ bytes: Int) {
        limiter.charge(id, bytes: bytes, rate: rate, now: RunnelResponder.monotonicNow())
    }
}
