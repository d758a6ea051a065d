import StreamModel
import Testing
@testable import Server

/// The token buckets behind per-credential rates and the failed-authentication limit, driven
/// with a hand-held clock (nanoseconds).
@Suite struct RateLimiterTests {
    static let second: Int64 = 1_000_000_000

    @Test func requestsPassUpToOneSecondsBurstThenRefill() {
        let limiter = RateLimiter()
        let rates = KeyRates(requestsPerSecond: 4)
        for _ in 0..<4 { #expect(limiter.admit("k", rates, now: 0) == nil) }
        #expect(limiter.admit("k", rates, now: 0) == .requestRate(retryAfter: 1))
        // A quarter of a second earns one request.
        #expect(limiter.admit("k", rates, now: Self.second / 4) == nil)
        #expect(limiter.admit("k", rates, now: Self.second / 4) != nil)
        // Other ids have buckets of their own; a long idle time refills to the burst, not beyond.
        #expect(limiter.admit("other", rates, now: 0) == nil)
        for _ in 0..<4 { #expect(limiter.admit("k", rates, now: 100 * Self.second) == nil) }
        #expect(limiter.admit("k", rates, now: 100 * Self.second) != nil)
    }

    @Test func bytesRunIntoDebtAndRefuseUntilRepaid() {
        let limiter = RateLimiter()
        let rates = KeyRates(bytesPerSecond: 1000)
        #expect(limiter.admit("k", rates, now: 0) == nil)
        limiter.charge("k", bytes: 3500, rate: 1000, now: 0)
        // 2,500 owed: 3 seconds to repay (rounded up).
        #expect(limiter.admit("k", rates, now: 0) == .byteRate(retryAfter: 3))
        #expect(limiter.admit("k", rates, now: 2 * Self.second) == .byteRate(retryAfter: 1))
        #expect(limiter.admit("k", rates, now: 5 * Self.second / 2) == nil)
        // Charging an id never admitted does nothing (no entry is made for it).
        limiter.charge("ghost", bytes: 10, rate: 1000, now: 0)
        #expect(limiter.admit("ghost", rates, now: 0) == nil)
    }

    @Test func bothRatesApplyAndARefusalTakesNothing() {
        let limiter = RateLimiter()
        let rates = KeyRates(requestsPerSecond: 1, bytesPerSecond: 100)
        #expect(limiter.admit("k", rates, now: 0) == nil)
        limiter.charge("k", bytes: 250, rate: 100, now: 0)
        #expect(limiter.admit("k", rates, now: Self.second) == .byteRate(retryAfter: 1))
        // The byte refusal did not take the request token earned meanwhile.
        #expect(limiter.admit("k", rates, now: 2 * Self.second) == nil)
    }

    @Test func failuresBlockAnAddressUntilItsBudgetRefills() {
        let failures = AuthFailureLimiter(perSecond: 2, burst: 4)
        #expect(failures.blocked("a", now: 0) == nil)
        for _ in 0..<4 { failures.failed("a", now: 0) }
        #expect(failures.blocked("a", now: 0) == 1)
        #expect(failures.blocked("b", now: 0) == nil)
        #expect(failures.blocked("a", now: Self.second / 2) == nil)
        // Debt is bounded by one burst: after a flood, burst/rate seconds (plus one token) clear it.
        for _ in 0..<1000 { failures.failed("a", now: Self.second) }
        #expect(failures.blocked("a", now: Self.second) == 3)
        #expect(failures.blocked("a", now: Self.second + 5 * Self.second / 2) == nil)
    }

    @Test func ratesFallBackFieldByField() {
        let own = KeyRates(requestsPerSecond: 7)
        #expect(own.orElse(KeyRates(requestsPerSecond: 1, bytesPerSecond: 9)) == KeyRates(requestsPerSecond: 7, bytesPerSecond: 9))
        #expect(!KeyRates(requestsPerSecond: 0).isValid)
        #expect(!KeyRates(bytesPerSecond: KeyLimits.maxBytesPerSecond + 1).isValid)
        #expect(KeyRates().isValid && KeyRates().isEmpty)
    }
}
