import Foundation
import Testing

/// Conformance §4.7 TTL and Expiry Validation, §4.14 TTL and Expiry Edge Cases, §4.15 HEAD
/// Metadata Edge Cases, §4.16 TTL Expiration Behavior. Expiry is awaited by polling HEAD
/// every 200 ms with a deadline (the suite's `waitForDeletion`). A renewal part-way through a
/// window happens at an instant anchored to the creating response (``pause(until:)``), and
/// that the first window has closed is observed on a twin stream, never assumed from a sleep.
/// The rules themselves are tested against a manual clock in StreamModelTests/ExpiryTests.
@Suite("TTL and Expiry", .conformance)
struct TTLTests {
    // §4.7 line 1191
    @Test("should reject both TTL and Expires-At (400)", arguments: Family.allCases)
    func rejectBoth(_ f: Family) async throws {
        let ds = DS(f)
        let r = try await ds.put(ds.stream(), [("Stream-TTL", "3600"), ("Stream-Expires-At", isoDate(secondsFromNow: 3600))])
        #expect(r.status == 400)
    }

    // §4.7 line 1206
    @Test("should reject invalid TTL (non-integer)", arguments: Family.allCases)
    func rejectTTLNonInteger(_ f: Family) async throws { try await rejectTTL(f, "abc") }

    // §4.7 line 1220
    @Test("should reject negative TTL", arguments: Family.allCases)
    func rejectTTLNegative(_ f: Family) async throws { try await rejectTTL(f, "-1") }

    // §4.14 line 2455
    @Test("should reject TTL with leading zeros", arguments: Family.allCases)
    func rejectTTLLeadingZeros(_ f: Family) async throws { try await rejectTTL(f, "00060") }

    // §4.14 line 2469
    @Test("should reject TTL with plus sign", arguments: Family.allCases)
    func rejectTTLPlus(_ f: Family) async throws { try await rejectTTL(f, "+60") }

    // §4.14 line 2483
    @Test("should reject TTL with float value", arguments: Family.allCases)
    func rejectTTLFloat(_ f: Family) async throws { try await rejectTTL(f, "60.5") }

    // §4.14 line 2497
    @Test("should reject TTL with scientific notation", arguments: Family.allCases)
    func rejectTTLScientific(_ f: Family) async throws { try await rejectTTL(f, "1e3") }

    private func rejectTTL(_ f: Family, _ ttl: String) async throws {
        let ds = DS(f)
        #expect(try await ds.put(ds.stream(), [("Stream-TTL", ttl)]).status == 400, "Stream-TTL: \(ttl)")
    }

    // §4.7 line 1234
    @Test("should accept valid TTL", arguments: Family.allCases)
    func acceptTTL(_ f: Family) async throws {
        let ds = DS(f)
        #expect([200, 201].contains(try await ds.put(ds.stream(), [("Stream-TTL", "3600")]).status))
    }

    // §4.7 line 1248
    @Test("should accept valid Expires-At", arguments: Family.allCases)
    func acceptExpiresAt(_ f: Family) async throws { try await acceptExpiresAtZ(f) }

    // §4.14 line 2525
    @Test("should accept Expires-At with Z timezone", arguments: Family.allCases)
    func acceptExpiresAtZ(_ f: Family) async throws {
        let ds = DS(f)
        let r = try await ds.put(ds.stream(), [("Stream-Expires-At", isoDate(secondsFromNow: 3600))])
        #expect([200, 201].contains(r.status))
    }

    // §4.14 line 2511
    @Test("should reject invalid Expires-At timestamp", arguments: Family.allCases)
    func rejectInvalidExpiresAt(_ f: Family) async throws {
        let ds = DS(f)
        #expect(try await ds.put(ds.stream(), [("Stream-Expires-At", "not-a-timestamp")]).status == 400)
    }

    // §4.14 line 2541
    @Test("should accept Expires-At with timezone offset", arguments: Family.allCases)
    func acceptExpiresAtOffset(_ f: Family) async throws {
        let ds = DS(f)
        let r = try await ds.put(ds.stream(), [("Stream-Expires-At", isoDate(secondsFromNow: 3600, offsetSuffix: true))])
        #expect([200, 201].contains(r.status))
    }

    // §4.14 line 2559
    @Test("should handle idempotent PUT with same TTL", arguments: Family.allCases)
    func idempotentSameTTL(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, [("Stream-TTL", "3600")]).status == 201)
        #expect(try await ds.put(p, [("Stream-TTL", "3600")]).status == 200)
    }

    // §4.14 line 2583
    @Test("should reject idempotent PUT with different TTL", arguments: Family.allCases)
    func idempotentDifferentTTL(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, [("Stream-TTL", "3600")]).status == 201)
        #expect(try await ds.put(p, [("Stream-TTL", "7200")]).status == 409)
    }

    // §4.15 line 2613
    @Test("should return TTL metadata if configured", arguments: Family.allCases)
    func headTTL(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        try await ds.put(p, [("Stream-TTL", "3600")])
        #expect(try await ds.head(p).header("Stream-TTL") == "3600")
    }

    // §4.15 line 2635
    @Test("should return Expires-At metadata if configured", arguments: Family.allCases)
    func headExpiresAt(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let at = Date().addingTimeInterval(3600)
        try await ds.put(p, [("Stream-Expires-At", isoDate(secondsFromNow: 3600))])
        let r = try await ds.head(p)
        #expect(r.status == 200)
        if let value = r.header("Stream-Expires-At") {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let parsed = formatter.date(from: value) ?? ISO8601DateFormatter().date(from: value)
            #expect(parsed.map { abs($0.timeIntervalSince(at)) < 5 } == true, "Stream-Expires-At \(value)")
        }
    }

    // §4.16 line 2692
    @Test("should return 404 on HEAD after TTL expires", arguments: Family.allCases)
    func headAfterTTL(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, [("Stream-TTL", "1")]).status == 201)
        #expect(try await ds.head(p).status == 200)
        #expect(try await ds.waitForStatus(p, timeout: .seconds(6)) == 404)
        #expect(try await ds.get(p).status == 404)
    }

    // §4.16 line 2721
    @Test("should return 404 on GET after TTL expires (idle)", arguments: Family.allCases)
    func getAfterTTL(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, body: "data", [("Stream-TTL", "1")]).status == 201)
        #expect(try await ds.waitForStatus(p, timeout: .seconds(6)) == 404)
        #expect(try await ds.get(p).status == 404)
    }

    // §4.16 line 2748
    @Test("should return 404 on POST append after TTL expires (idle)", arguments: Family.allCases)
    func postAfterTTL(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, [("Stream-TTL", "1")]).status == 201)
        #expect(try await ds.waitForStatus(p, timeout: .seconds(6)) == 404)
        #expect(try await ds.post(p, body: "late").status == 404)
    }

    // §4.16 line 2776
    @Test("should return 404 on HEAD after Expires-At passes", arguments: Family.allCases)
    func headAfterExpiresAt(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, [("Stream-Expires-At", isoDate(secondsFromNow: 3))]).status == 201)
        #expect(try await ds.head(p).status == 200)
        #expect(try await ds.waitForStatus(p, timeout: .seconds(8)) == 404)
        #expect(try await ds.get(p).status == 404)
    }

    // §4.16 line 2809
    @Test("should return 404 on GET after Expires-At passes", arguments: Family.allCases)
    func getAfterExpiresAt(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, body: "data", [("Stream-Expires-At", isoDate(secondsFromNow: 3))]).status == 201)
        #expect(try await ds.get(p).status == 200)
        #expect(try await ds.waitForStatus(p, timeout: .seconds(8)) == 404)
        #expect(try await ds.get(p).status == 404)
    }

    // §4.16 line 2843
    @Test("should return 404 on POST append after Expires-At passes", arguments: Family.allCases)
    func postAfterExpiresAt(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, [("Stream-Expires-At", isoDate(secondsFromNow: 3))]).status == 201)
        #expect(try await ds.post(p, body: "before").status == 204)
        #expect(try await ds.waitForStatus(p, timeout: .seconds(8)) == 404)
        #expect(try await ds.post(p, body: "after").status == 404)
    }

    // §4.16 line 2880
    @Test("should allow recreating stream after TTL expires", arguments: Family.allCases)
    func recreateAfterTTL(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, body: "original data", [("Stream-TTL", "1")]).status == 201)
        #expect(try await ds.waitForStatus(p, timeout: .seconds(6)) == 404)
        #expect(try await ds.put(p, ct: js, body: #"["new data"]"#, [("Stream-TTL", "3600")]).status == 201)
        let r = try await ds.get(p)
        #expect(r.status == 200)
        #expect(r.text.contains("new data"))
        #expect(!r.text.contains("original data"))
    }

    // §4.16 line 2920
    @Test("should extend TTL on write (sliding window)", arguments: Family.allCases)
    func slidingWindowWrite(_ f: Family) async throws {
        try await slidingWindow(f) { ds, p async throws in #expect(try await ds.post(p, body: "keepalive").status == 204) }
    }

    // §4.16 line 2954
    @Test("should extend TTL on read (sliding window)", arguments: Family.allCases)
    func slidingWindowRead(_ f: Family) async throws {
        try await slidingWindow(f) { ds, p async throws in #expect(try await ds.get(p).status == 200) }
    }

    /// A stream with a 2 s TTL is renewed by `renew` part-way through its window; a twin
    /// created just after it with the same TTL expires when the first window would have
    /// closed, and the renewed stream is still there then.
    private func slidingWindow(_ f: Family, renew: (DS, String) async throws -> Void) async throws {
        let ds = DS(f), p = ds.stream(), twin = ds.stream("twin")
        #expect(try await ds.put(p, body: "data", [("Stream-TTL", "2")]).status == 201)
        let created = ContinuousClock.now
        #expect(try await ds.put(twin, [("Stream-TTL", "2")]).status == 201)
        try await pause(until: created + .seconds(1))
        try await renew(ds, p)
        // HEAD does not renew (below), so polling the twin does not keep it alive.
        #expect(try await ds.waitForStatus(twin, timeout: .seconds(5)) == 404)
        #expect(try await ds.head(p).status == 200)
    }

    // §4.16 line 2987
    @Test("should NOT extend TTL on HEAD", arguments: Family.allCases)
    func headDoesNotExtend(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, [("Stream-TTL", "2")]).status == 201)
        let created = ContinuousClock.now
        try await pause(until: created + .seconds(1))
        let headed = ContinuousClock.now
        #expect(try await ds.head(p).status == 200)
        // Renewed by that HEAD, the stream would live until at least `headed` + 2 s.
        #expect(try await ds.waitForStatus(p, by: headed + .seconds(2)) == 404)
        #expect(try await ds.get(p).status == 404)
    }

    // §4.16 line 3020
    @Test("should NOT extend Expires-At on read or write", arguments: Family.allCases)
    func expiresAtNotExtended(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let start = ContinuousClock.now
        #expect(try await ds.put(p, body: "data", [("Stream-Expires-At", isoDate(secondsFromNow: 4))]).status == 201)
        try await pause(until: start + .seconds(2))
        #expect(try await ds.get(p).status == 200)
        #expect(try await ds.post(p, body: "more").status == 204)
        // Gone at the time it named (plus the polling interval and a margin), not later.
        #expect(try await ds.waitForStatus(p, by: start + .milliseconds(5_500)) == 404)
        #expect(try await ds.get(p).status == 404)
    }
}
