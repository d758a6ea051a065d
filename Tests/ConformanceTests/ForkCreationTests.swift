import Foundation
import Testing

/// Conformance §4.25 Fork - Creation. `Stream-Forked-From` names the source in the same
/// route family as the fork.
@Suite("Fork - Creation", .conformance)
struct ForkCreationTests {
    private let pastTail = "9999999999999999_9999999999999999"

    // §4.25 line 7923
    @Test("should fork at current head (default)", arguments: Family.allCases)
    func forkAtHead(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        #expect(try await ds.put(src, body: "source data").status == 201)
        #expect(try await ds.fork(fk, from: src).status == 201)
    }

    // §4.25 line 7950
    @Test("should fork at a specific offset", arguments: Family.allCases)
    func forkAtOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        let m = try #require(try await ds.put(src, body: "first").nextOffset)
        try await ds.post(src, body: "second")
        #expect(try await ds.fork(fk, from: src, offset: m).status == 201)
        #expect(try await ds.get(fk, "offset=-1").text == "first")
    }

    // §4.25 line 7989
    @Test("should fork at zero offset (empty inherited data)", arguments: Family.allCases)
    func forkAtZero(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "source data")
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset).status == 201)
        let r = try await ds.get(fk, "offset=-1")
        #expect(r.text == "")
        #expect(r.upToDate)
    }

    // §4.25 line 8021
    @Test("should fork at head offset (all source data inherited)", arguments: Family.allCases)
    func forkAtHeadOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "chunk1")
        try await ds.post(src, body: "chunk2")
        let tail = try #require(try await ds.head(src).nextOffset)
        #expect(try await ds.fork(fk, from: src, offset: tail).status == 201)
        #expect(try await ds.get(fk, "offset=-1").text == "chunk1chunk2")
    }

    // §4.25 line 8062
    @Test("should return 404 when forking a nonexistent stream", arguments: Family.allCases)
    func forkMissing(_ f: Family) async throws {
        let ds = DS(f)
        #expect(try await ds.fork(ds.stream("fork"), from: ds.stream("nonexistent")).status == 404)
    }

    // §4.25 line 8076
    @Test("should return 400 when forking at offset beyond stream length", arguments: Family.allCases)
    func forkBeyondTail(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src")
        try await ds.put(src, body: "data")
        #expect(try await ds.fork(ds.stream("fork"), from: src, offset: pastTail).status == 400)
    }

    // §4.25 line 8100
    @Test("should return 409 when forking to path already in use with different config", arguments: Family.allCases)
    func forkPathInUse(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "data")
        #expect(try await ds.put(fk, ct: js).status == 201)
        #expect(try await ds.fork(fk, from: src).status == 409)
    }

    // §4.25 line 8129
    @Test("should fork a closed stream — fork starts open", arguments: Family.allCases)
    func forkClosed(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "data")
        try await ds.close(src)
        let r = try await ds.fork(fk, from: src)
        #expect(r.status == 201)
        #expect(r.header("Stream-Closed") == nil)
        #expect(try await ds.post(fk, body: " fork data").status == 204)
    }

    // §4.25 line 8166
    @Test("should fork an empty stream", arguments: Family.allCases)
    func forkEmpty(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src)
        #expect(try await ds.fork(fk, from: src).status == 201)
        let r = try await ds.get(fk, "offset=-1")
        #expect(r.text == "")
        #expect(r.upToDate)
    }

    // §4.25 line 8195
    @Test("should fork preserving content-type when specified", arguments: Family.allCases)
    func forkPreservesContentType(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, ct: js, body: #"[{"key":"value"}]"#)
        let r = try await ds.fork(fk, from: src, ct: js)
        #expect(r.status == 201)
        #expect(r.contentType == "application/json")
        #expect(try await ds.head(fk).contentType == "application/json")
    }

    // §4.25 line 8225
    @Test("should fork inheriting content-type when header omitted", arguments: Family.allCases)
    func forkInheritsContentType(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, ct: js, body: #"[{"key":"value"}]"#)
        let r = try await ds.fork(fk, from: src, ct: nil)
        #expect(r.status == 201)
        #expect(r.contentType == "application/json")
        #expect(try await ds.head(fk).contentType == "application/json")
        #expect(try await ds.post(fk, ct: js, body: #"[{"key":"appended"}]"#).status == 204)
    }

    // §4.25 line 8268
    @Test("should fork at a binary sub-offset within an append", arguments: Family.allCases)
    func forkBinarySubOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "hello")
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "3").status == 201)
        #expect(try await ds.get(fk, "offset=-1").text == "hel")
    }

    // §4.25 line 8300
    @Test("should fork at a JSON sub-offset within a flattened batch", arguments: Family.allCases)
    func forkJSONSubOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, ct: js, body: #"[{"a":1},{"b":2},{"c":3},{"d":4}]"#)
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "2", ct: js).status == 201)
        #expect(jsonEqual(try await ds.get(fk, "offset=-1").json, #"[{"a":1},{"b":2}]"#))
    }

    // §4.25 line 8332
    @Test("should treat sub-offset 0 as equivalent to absent header", arguments: Family.allCases)
    func subOffsetZero(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "hello")
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset).status == 201)
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "0").status == 200)
    }

    // §4.25 line 8367
    @Test("should return 400 when binary sub-offset overshoots message length", arguments: Family.allCases)
    func binarySubOffsetOvershoot(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src")
        try await ds.put(src, body: "hi")
        #expect(try await ds.fork(ds.stream("fork"), from: src, offset: zeroOffset, sub: "5").status == 400)
    }

    // §4.25 line 8390
    @Test("should return 400 when JSON sub-offset overshoots message count", arguments: Family.allCases)
    func jsonSubOffsetOvershoot(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src")
        try await ds.put(src, ct: js, body: #"[{"a":1},{"b":2},{"c":3}]"#)
        #expect(try await ds.fork(ds.stream("fork"), from: src, offset: zeroOffset, sub: "4", ct: js).status == 400)
    }

    // §4.25 line 8413
    @Test("should return 400 for malformed sub-offset values", arguments: Family.allCases)
    func malformedSubOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src")
        try await ds.put(src, body: "hello")
        for sub in ["-1", "abc", "1.5", "05", "+1"] {
            #expect(try await ds.fork(ds.stream("fork"), from: src, offset: zeroOffset, sub: sub).status == 400, "sub-offset \(sub)")
        }
    }

    // §4.25 line 8438
    @Test("should be idempotent when re-creating with matching sub-offset", arguments: Family.allCases)
    func idempotentSubOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "hello")
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "2").status == 201)
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "2").status == 200)
    }

    // §4.25 line 8469
    @Test("should return 409 when re-creating with mismatched sub-offset", arguments: Family.allCases)
    func mismatchedSubOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "hello")
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "2").status == 201)
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "3").status == 409)
    }

    // §4.25 line 8499
    @Test("should be idempotent when re-creating a JSON fork with matching sub-offset", arguments: Family.allCases)
    func idempotentJSONSubOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, ct: js, body: #"[{"a":1},{"b":2},{"c":3}]"#)
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "2", ct: js).status == 201)
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "2", ct: js).status == 200)
    }

    // §4.25 line 8530
    @Test("should return 409 when re-creating a JSON fork with mismatched sub-offset", arguments: Family.allCases)
    func mismatchedJSONSubOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, ct: js, body: #"[{"a":1},{"b":2},{"c":3}]"#)
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "2", ct: js).status == 201)
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "1", ct: js).status == 409)
    }

    // §4.25 line 8560
    @Test("should support appending to fork after sub-offset boundary", arguments: Family.allCases)
    func appendAfterSubOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "hello")
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "3").status == 201)
        #expect(try await ds.post(fk, body: "LO").status == 204)
        #expect(try await ds.get(fk, "offset=-1").text == "helLO")
    }

    // §4.25 line 8597
    @Test("should inherit content-type when sub-offset is supplied without explicit Content-Type", arguments: Family.allCases)
    func subOffsetInheritsContentType(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, ct: js, body: #"[{"a":1},{"b":2}]"#)
        let r = try await ds.fork(fk, from: src, offset: zeroOffset, sub: "1", ct: nil)
        #expect(r.status == 201)
        #expect(r.contentType == "application/json")
    }

    // §4.25 line 8620
    @Test("should not inherit producer state across sub-offset fork boundary", arguments: Family.allCases)
    func noProducerStateJSON(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, ct: js)
        let producer = ProducerTests.producer("fork-producer", 0, 0)
        #expect(try await ds.post(src, ct: js, body: #"[{"i":1},{"i":2},{"i":3}]"#, producer).status == 200)
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "1", ct: nil).status == 201)
        #expect(try await ds.post(fk, ct: js, body: #"[{"i":99}]"#, producer).status == 200)
        #expect(jsonEqual(try await ds.get(fk, "offset=-1").json, #"[{"i":1},{"i":99}]"#))
    }

    // §4.25 line 8681
    @Test("should not inherit producer state across binary sub-offset fork boundary", arguments: Family.allCases)
    func noProducerStateBinary(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src)
        let producer = ProducerTests.producer("fork-producer", 0, 0)
        #expect(try await ds.post(src, body: "hello", producer).status == 200)
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "3").status == 201)
        #expect(try await ds.post(fk, body: "LO", producer).status == 200)
        #expect(try await ds.get(fk, "offset=-1").text == "helLO")
    }

    // §4.25 line 8739
    @Test("should fork at a binary sub-offset anchored mid-stream", arguments: Family.allCases)
    func subOffsetMidStream(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        let a = try #require(try await ds.put(src, body: "first").nextOffset)
        try await ds.post(src, body: "second")
        #expect(try await ds.fork(fk, from: src, offset: a, sub: "3").status == 201)
        #expect(try await ds.get(fk, "offset=-1").text == "firstsec")
    }

    // §4.25 line 8777
    @Test("should return 400 when sub-offset > 0 is supplied without Stream-Fork-Offset", arguments: Family.allCases)
    func subOffsetWithoutForkOffset(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src")
        try await ds.put(src, body: "hello")
        #expect(try await ds.fork(ds.stream("fork"), from: src, sub: "1").status == 400)
    }

    // §4.25 line 8801
    @Test("should return 400 when Stream-Fork-Sub-Offset is supplied without Stream-Forked-From (even when value is 0)", arguments: Family.allCases)
    func subOffsetWithoutSource(_ f: Family) async throws {
        let ds = DS(f)
        #expect(try await ds.put(ds.stream(), [("Stream-Fork-Sub-Offset", "0")]).status == 400)
    }

    // §4.25 line 8815
    @Test("should return a Stream-Next-Offset on sub-offset fork creation that is consumable by reads", arguments: Family.allCases)
    func subOffsetNextOffsetReadable(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "hello")
        let created = try await ds.fork(fk, from: src, offset: zeroOffset, sub: "3")
        #expect(created.status == 201)
        let t = try #require(created.nextOffset)
        #expect(!t.isEmpty)
        let r = try await ds.get(fk, "offset=\(urlEncode(t))")
        #expect(r.status == 200)
        #expect(r.text == "")
        #expect(r.upToDate)
    }

    // §4.25 line 8846
    @Test("should return 400 when sub-offset is supplied on an empty source stream", arguments: Family.allCases)
    func subOffsetEmptySource(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src")
        try await ds.put(src)
        #expect(try await ds.fork(ds.stream("fork"), from: src, offset: zeroOffset, sub: "1").status == 400)
    }

    // §4.25 line 8868
    @Test("should accept binary sub-offset equal to message length", arguments: Family.allCases)
    func subOffsetEqualsLength(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "hello")
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "5").status == 201)
        #expect(try await ds.get(fk, "offset=-1").text == "hello")
    }

    // §4.25 line 8894
    @Test("should accept JSON sub-offset equal to flattened message count", arguments: Family.allCases)
    func subOffsetEqualsCount(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, ct: js, body: #"[{"a":1},{"b":2},{"c":3}]"#)
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "3", ct: js).status == 201)
        #expect(jsonEqual(try await ds.get(fk, "offset=-1").json, #"[{"a":1},{"b":2},{"c":3}]"#))
    }

    // §4.25 line 8920
    @Test("should append initial body after the materialized sub-offset prefix", arguments: Family.allCases)
    func subOffsetInitialBody(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "hello")
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "3", body: "XY").status == 201)
        #expect(try await ds.get(fk, "offset=-1").text == "helXY")
    }

    // §4.25 line 8950
    @Test("should allow sub-offset fork creation from a closed source stream", arguments: Family.allCases)
    func subOffsetClosedSource(_ f: Family) async throws {
        let ds = DS(f), src = ds.stream("src"), fk = ds.stream("fork")
        try await ds.put(src, body: "hello", [("Stream-Closed", "true")])
        #expect(try await ds.fork(fk, from: src, offset: zeroOffset, sub: "3").status == 201)
        #expect(try await ds.get(fk, "offset=-1").text == "hel")
    }
}
