import Foundation
import Testing

/// Conformance §4.30 Fork - Deletion and Lifecycle and §4.31 Fork - TTL and Expiry.
@Suite("Fork - Lifecycle and Expiry", .conformance)
struct ForkLifecycleTests {
    /// A source with `body` and a fork of it at its tail.
    private func forked(_ ds: DS, _ body: String, _ srcHeaders: [(String, String)] = [], _ forkHeaders: [(String, String)] = []) async throws -> (src: String, fork: String) {
        let src = ds.stream("src"), fk = ds.stream("fork")
        #expect(try await ds.put(src, body: body, srcHeaders).status == 201)
        #expect(try await ds.fork(fk, from: src, forkHeaders).status == 201)
        return (src, fk)
    }

    // §4.30 line 9950
    @Test("should delete fork without affecting source", arguments: Family.allCases)
    func deleteFork(_ f: Family) async throws {
        let ds = DS(f), (src, fk) = try await forked(ds, "source data")
        #expect(try await ds.delete(fk).status == 204)
        #expect(try await ds.get(fk).status == 404)
        let r = try await ds.get(src)
        #expect(r.status == 200)
        #expect(r.text == "source data")
    }

    // §4.30 line 9992
    @Test("should soft-delete source while fork exists — fork still reads", arguments: Family.allCases)
    func softDeleteSource(_ f: Family) async throws {
        let ds = DS(f), (src, fk) = try await forked(ds, "preserved data")
        #expect(try await ds.delete(src).status == 204)
        #expect(try await ds.head(src).status == 410)
        #expect(try await ds.get(fk, "offset=-1").text == "preserved data")
    }

    // §4.30 line 10032
    @Test("should block re-creation of soft-deleted source (PUT returns 409)", arguments: Family.allCases)
    func softDeletedBlocksPut(_ f: Family) async throws {
        let ds = DS(f), (src, _) = try await forked(ds, "data")
        try await ds.delete(src)
        #expect(try await ds.put(src).status == 409)
    }

    // §4.30 line 10064
    @Test("should return 410 for GET on soft-deleted source", arguments: Family.allCases)
    func softDeletedGet(_ f: Family) async throws {
        let ds = DS(f), (src, _) = try await forked(ds, "data")
        try await ds.delete(src)
        #expect(try await ds.get(src).status == 410)
    }

    // §4.30 line 10087
    @Test("should return 410 for POST on soft-deleted source", arguments: Family.allCases)
    func softDeletedPost(_ f: Family) async throws {
        let ds = DS(f), (src, _) = try await forked(ds, "data")
        try await ds.delete(src)
        #expect(try await ds.post(src, body: "more").status == 410)
    }

    // §4.30 line 10114
    @Test("should return 410 for DELETE on soft-deleted source", arguments: Family.allCases)
    func softDeletedDelete(_ f: Family) async throws {
        let ds = DS(f), (src, _) = try await forked(ds, "data")
        try await ds.delete(src)
        #expect(try await ds.delete(src).status == 410)
    }

    // §4.30 line 10139
    @Test("should return 409 for fork from soft-deleted source", arguments: Family.allCases)
    func forkFromSoftDeleted(_ f: Family) async throws {
        let ds = DS(f), (src, _) = try await forked(ds, "data")
        try await ds.delete(src)
        #expect(try await ds.fork(ds.stream("fork2"), from: src).status == 409)
    }

    // §4.30 line 10169
    @Test("should return 409 for fork with content-type mismatch", arguments: Family.allCases)
    func forkContentTypeMismatch(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src")
        try await ds.put(src, body: "data")
        #expect(try await ds.fork(ds.stream("fork"), from: src, ct: js).status == 409)
    }

    // §4.30 line 10190
    @Test("rejected fork (content-type mismatch) does not leak a source reference", arguments: Family.allCases)
    func rejectedForkNoLeak(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src")
        try await ds.put(src, body: "data")
        #expect(try await ds.fork(ds.stream("fork"), from: src, ct: js).status == 409)
        #expect(try await ds.delete(src).status == 204)
        #expect(try await ds.head(src).status == 404)
    }

    // §4.30 line 10223
    @Test("should cascade GC when last fork is deleted", arguments: Family.allCases)
    func cascadeGC(_ f: Family) async throws {
        let ds = DS(f), (src, fk) = try await forked(ds, "data")
        try await ds.delete(src)
        #expect(try await ds.head(src).status == 410)
        #expect(try await ds.delete(fk).status == 204)
        #expect(try await ds.waitForStatus(src) == 404)
    }

    // §4.30 line 10263
    @Test("should cascade GC through three levels", arguments: Family.allCases)
    func cascadeThreeLevels(_ f: Family) async throws {
        let ds = DS(f), l0 = ds.stream("l0"), l1 = ds.stream("l1"), l2 = ds.stream("l2")
        try await ds.put(l0, body: "data")
        #expect(try await ds.fork(l1, from: l0).status == 201)
        #expect(try await ds.fork(l2, from: l1).status == 201)
        try await ds.delete(l0)
        try await ds.delete(l1)
        #expect(try await ds.head(l0).status == 410)
        #expect(try await ds.head(l1).status == 410)
        #expect(try await ds.delete(l2).status == 204)
        #expect(try await ds.head(l2).status == 404)
        #expect(try await ds.waitForStatus(l1) == 404)
        #expect(try await ds.waitForStatus(l0) == 404)
    }

    // §4.30 line 10318
    @Test("should preserve data when deleting middle of chain", arguments: Family.allCases)
    func deleteMiddle(_ f: Family) async throws {
        let ds = DS(f), l0 = ds.stream("l0"), l1 = ds.stream("l1"), l2 = ds.stream("l2")
        try await ds.put(l0, body: "A")
        #expect(try await ds.fork(l1, from: l0).status == 201)
        try await ds.post(l1, body: "B")
        #expect(try await ds.fork(l2, from: l1).status == 201)
        try await ds.post(l2, body: "C")
        #expect(try await ds.delete(l1).status == 204)
        #expect(try await ds.head(l1).status == 410)
        #expect(try await ds.get(l2, "offset=-1").text == "ABC")
        #expect(try await ds.get(l0, "offset=-1").text == "A")
    }

    // §4.30 line 10375
    @Test("should keep source alive when all forks are deleted", arguments: Family.allCases)
    func sourceSurvivesForks(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), f1 = ds.stream("f1"), f2 = ds.stream("f2")
        try await ds.put(src, body: "alive")
        #expect(try await ds.fork(f1, from: src).status == 201)
        #expect(try await ds.fork(f2, from: src).status == 201)
        #expect(try await ds.delete(f1).status == 204)
        #expect(try await ds.delete(f2).status == 204)
        #expect(try await ds.get(src, "offset=-1").text == "alive")
    }

    // §4.31 line 10445
    @Test("should inherit source expiry when none specified", arguments: Family.allCases)
    func inheritExpiresAt(_ f: Family) async throws {
        let ds = DS(f)
        let (src, fk) = try await forked(ds, "data", [("Stream-Expires-At", isoDate(secondsFromNow: 3600))])
        let r = try await ds.head(fk)
        #expect(r.status == 200)
        if let forkExpiry = r.header("Stream-Expires-At") {
            let sourceExpiry = try #require(try await ds.head(src).header("Stream-Expires-At"))
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let parse = { (s: String) in formatter.date(from: s) ?? ISO8601DateFormatter().date(from: s) }
            let a = try #require(parse(forkExpiry)), b = try #require(parse(sourceExpiry))
            #expect(a <= b)
        }
    }

    // §4.31 line 10486
    @Test("should allow fork with shorter TTL", arguments: Family.allCases)
    func forkShorterTTL(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src")
        try await ds.put(src, body: "data", [("Stream-TTL", "3600")])
        #expect([200, 201].contains(try await ds.fork(ds.stream("fork"), from: src, [("Stream-TTL", "1800")]).status))
    }

    // §4.31 line 10513
    @Test("should expire fork based on TTL (releases refcount)", arguments: Family.allCases)
    func forkExpiresByTTL(_ f: Family) async throws {
        let ds = DS(f)
        let (_, fk) = try await forked(ds, "data", [("Stream-TTL", "60")], [("Stream-TTL", "1")])
        #expect(try await ds.head(fk).status == 200)
        #expect(try await ds.waitForStatus(fk, timeout: .seconds(6)) == 404)
        #expect(try await ds.get(fk).status == 404)
    }

    // §4.31 line 10557
    @Test("should expire source with living forks (source goes 410)", arguments: Family.allCases)
    func sourceExpiresWithForks(_ f: Family) async throws {
        let ds = DS(f)
        let (src, fk) = try await forked(ds, "data", [("Stream-TTL", "1")])
        #expect([404, 410].contains(try await ds.waitForStatus(src, [404, 410], timeout: .seconds(6))))
        #expect([404, 410].contains(try await ds.waitForStatus(fk, [404, 410], timeout: .seconds(6))))
    }

    // §4.31 line 10603
    @Test("should inherit source TTL value when none specified", arguments: Family.allCases)
    func inheritTTL(_ f: Family) async throws {
        let ds = DS(f)
        let (_, fk) = try await forked(ds, "data", [("Stream-TTL", "3600")])
        #expect(try await ds.head(fk).header("Stream-TTL") == "3600")
    }

    // §4.31 line 10637
    @Test("should use fork's own TTL when specified", arguments: Family.allCases)
    func ownTTL(_ f: Family) async throws {
        let ds = DS(f)
        let (_, fk) = try await forked(ds, "data", [("Stream-TTL", "3600")], [("Stream-TTL", "7200")])
        #expect(try await ds.head(fk).header("Stream-TTL") == "7200")
    }

    // §4.31 line 10672
    @Test("should allow fork to outlive source via TTL renewal", arguments: Family.allCases)
    func forkOutlivesSource(_ f: Family) async throws {
        let ds = DS(f)
        let (src, fk) = try await forked(ds, "data", [("Stream-TTL", "2")], [("Stream-TTL", "2")])
        let created = ContinuousClock.now
        // Created after the fork with the same TTL: gone once the fork's first window closed.
        let twin = ds.stream("twin")
        #expect(try await ds.put(twin, [("Stream-TTL", "2")]).status == 201)
        try await pause(until: created + .seconds(1))
        #expect(try await ds.get(fk).status == 200)
        #expect([404, 410].contains(try await ds.waitForStatus(src, [404, 410], timeout: .seconds(5))))
        #expect(try await ds.waitForStatus(twin, timeout: .seconds(5)) == 404)
        #expect(try await ds.head(fk).status == 200)
    }

    // §4.31 line 10725
    @Test("should allow fork Expires-At beyond source TTL expiry", arguments: Family.allCases)
    func forkExpiresAtBeyondSource(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "data", [("Stream-TTL", "10")])
        #expect(try await ds.fork(fk, from: src, [("Stream-Expires-At", isoDate(secondsFromNow: 3600))]).status == 201)
        if let value = try await ds.head(fk).header("Stream-Expires-At") {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let date = try #require(formatter.date(from: value) ?? ISO8601DateFormatter().date(from: value))
            #expect(date > Date().addingTimeInterval(3500))
        }
    }

    // §4.31 line 10766
    @Test("should allow fork TTL longer than source TTL (no capping)", arguments: Family.allCases)
    func forkLongerTTL(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "data", [("Stream-TTL", "10")])
        #expect([200, 201].contains(try await ds.fork(fk, from: src, [("Stream-TTL", "99999")]).status))
        #expect(try await ds.head(fk).header("Stream-TTL") == "99999")
    }
}
