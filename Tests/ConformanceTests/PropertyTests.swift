import Foundation
import SeededRandom
import Synchronization
import Testing

/// Random request bodies from the shared `SplitMix64`, so a failing case replays exactly from
/// the seed printed with it.
extension SplitMix64 {
    mutating func bytes(_ range: ClosedRange<Int>) -> [UInt8] {
        (0..<Int.random(in: range, using: &self)).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

/// Conformance §4.22 Property-Based Tests (fast-check in the suite): each property runs a
/// fixed number of seeded cases. `CONFORMANCE_SEED` overrides the base seed; every failure
/// names the seed and case that replays it. Run on `/v1/stream/` only.
@Suite("Property-Based Tests", .conformance)
struct PropertyTests {
    static let baseSeed: UInt64 = ProcessInfo.processInfo.environment["CONFORMANCE_SEED"].flatMap { UInt64($0) } ?? 0x5EED_2026

    /// Runs `cases` seeded cases of a property.
    private func forAll(_ cases: Int, _ property: String, _ body: (inout SplitMix64, Comment) async throws -> Void) async throws {
        for i in 0..<cases {
            let seed = Self.baseSeed &+ UInt64(i) &* 0x1000_0001
            var rng = SplitMix64(seed: seed)
            try await body(&rng, "\(property): seed \(seed) (CONFORMANCE_SEED=\(Self.baseSeed), case \(i))")
        }
    }

    private let ds = DS(.v1)

    /// FNV-1a over the bytes (the suite's state hash).
    private func fnv1a(_ bytes: [UInt8]) -> UInt32 {
        bytes.reduce(2_166_136_261 as UInt32) { ($0 ^ UInt32($1)) &* 16_777_619 }
    }

    // §4.22 line 4716
    @Test("Byte-Exactness › concurrent readers see consistent data during writes")
    func concurrentReadersConsistent() async throws {
        try await forAll(20, "concurrent readers") { rng, seed in
            let p = ds.stream("prop")
            try await ds.putBytes(p, ct: os, body: nil)
            let chunks = (0..<Int.random(in: 1...10, using: &rng)).map { _ in rng.bytes(1...500) }
            let expected = chunks.flatMap { $0 }
            let ds = ds
            try await withThrowingTaskGroup(of: [[UInt8]].self) { group in
                group.addTask {
                    for chunk in chunks {
                        let status = try await ds.postBytes(p, ct: os, body: chunk).status
                        #expect(status == 204, seed)
                    }
                    return []
                }
                for _ in 0..<7 {
                    group.addTask {
                        var seen: [[UInt8]] = []
                        for _ in 0..<3 { seen.append(try await ds.get(p).body) }
                        return seen
                    }
                }
                for try await snapshots in group {
                    for s in snapshots { #expect(expected.starts(with: s), seed) }
                }
            }
            #expect(try await ds.readAll(p) == expected, seed)
        }
    }

    // §4.22 line 4798
    @Test("Byte-Exactness › single byte values cover full range (0-255) with concurrent readers during write")
    func singleByteValues() async throws {
        try await forAll(50, "single byte") { rng, seed in
            let b = UInt8.random(in: 0...255, using: &rng)
            let p = ds.stream("prop")
            try await ds.putBytes(p, ct: os, body: nil)
            let ds = ds
            try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
                group.addTask {
                    let status = try await ds.postBytes(p, ct: os, body: [b]).status
                    #expect(status == 204, seed)
                    return nil
                }
                for _ in 0..<7 { group.addTask { try await ds.get(p).body } }
                for try await read in group {
                    if let read { #expect(read.isEmpty || read == [b], seed) }
                }
            }
            #expect(try await ds.get(p).body == [b], seed)
        }
    }

    // §4.22 line 4860
    @Test("Operation Sequence › random operation sequences maintain stream invariants")
    func randomOperationSequences() async throws {
        try await forAll(15, "operation sequences") { rng, seed in
            let p = ds.stream("prop")
            try await ds.putBytes(p, ct: os, body: nil)
            var appended: [UInt8] = []
            var saved: [(offset: String, length: Int)] = []
            for _ in 0..<Int.random(in: 5...30, using: &rng) {
                switch Int.random(in: 0..<3, using: &rng) {
                case 0:
                    let data = rng.bytes(1...200)
                    let r = try await ds.postBytes(p, ct: os, body: data)
                    #expect(r.status == 204, seed)
                    appended += data
                    if let next = r.nextOffset { saved.append((next, appended.count)) }
                case 1:
                    #expect(try await ds.readAll(p) == appended, seed)
                default:
                    guard let pick = saved.randomElement(using: &rng) else { continue }
                    let r = try await ds.get(p, "offset=\(urlEncode(pick.offset))")
                    #expect(r.status == 200, seed)
                    #expect((r.nextOffset ?? "") >= pick.offset, seed)
                    #expect(r.body == Array(appended[pick.length...]), seed)
                }
            }
            #expect(try await ds.readAll(p) == appended, seed)
        }
    }

    // §4.22 line 4988
    @Test("Operation Sequence › offsets are always monotonically increasing")
    func offsetsMonotonic() async throws {
        try await forAll(25, "monotonic offsets") { rng, seed in
            let p = ds.stream("prop")
            try await ds.putBytes(p, ct: os, body: nil)
            var previous = ""
            for _ in 0..<Int.random(in: 2...15, using: &rng) {
                let next = try #require(try await ds.postBytes(p, ct: os, body: rng.bytes(1...100)).nextOffset, seed)
                #expect(next > previous, seed)
                previous = next
            }
        }
    }

    // §4.22 line 5031
    @Test("Operation Sequence › read-your-writes: data is immediately visible after append")
    func readYourWrites() async throws {
        try await forAll(30, "read-your-writes") { rng, seed in
            let p = ds.stream("prop")
            try await ds.putBytes(p, ct: os, body: nil)
            let data = rng.bytes(1...500)
            #expect(try await ds.postBytes(p, ct: os, body: data).status == 204, seed)
            let r = try await ds.get(p)
            #expect(r.status == 200, seed)
            #expect(r.body == data, seed)
        }
    }

    // §4.22 line 5077
    @Test("Immutability › data at offset never changes after additional appends")
    func immutability() async throws {
        try await forAll(20, "immutability") { rng, seed in
            let p = ds.stream("prop")
            try await ds.putBytes(p, ct: os, body: nil)
            try await ds.postBytes(p, ct: os, body: rng.bytes(1...200))
            let first = try await ds.get(p).body
            for _ in 0..<Int.random(in: 1...5, using: &rng) { try await ds.postBytes(p, ct: os, body: rng.bytes(1...200)) }
            let second = try await ds.get(p).body
            #expect(second.starts(with: first), seed)
        }
    }

    // §4.22 line 5137
    @Test("Offset Validation › should reject offsets with invalid characters")
    func invalidOffsetCharacters() async throws {
        let p = ds.stream("prop")
        try await ds.put(p, body: "data")
        let alphabet = Array("0123456789_abcdef")
        try await forAll(30, "invalid offsets") { rng, seed in
            let core = String((0..<Int.random(in: 1...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            let bad: String = switch Int.random(in: 0..<8, using: &rng) {
            case 0: core + " " + core
            case 1: "../" + core
            case 2: core + "/.."
            case 3: core + "\u{0}" + core
            case 4: core + "\n"
            case 5: core + "\r\n"
            case 6: core + "," + core
            default: core + "/" + core
            }
            let r = try await ds.get(p, "offset=\(urlEncode(bad))")
            #expect(r.status == 400, "\(seed): offset \(bad.debugDescription) → \(r.status)")
        }
    }

    /// Random `[0-9a-zA-Z]+` strings.
    private func seqString(_ rng: inout SplitMix64) -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return String((0..<Int.random(in: 1...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }

    // §4.22 line 5183
    @Test("Sequence Ordering › lexicographically ordered seq values are accepted")
    func orderedSeqAccepted() async throws {
        try await forAll(20, "ordered seqs") { rng, seed in
            let seqs = Set((0..<Int.random(in: 2...10, using: &rng)).map { _ in seqString(&rng) }).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            let p = ds.stream("prop")
            try await ds.put(p)
            for s in seqs { #expect(try await ds.post(p, body: "x", [("Stream-Seq", s)]).status == 204, "\(seed): seq \(s) of \(seqs)") }
        }
    }

    // §4.22 line 5222
    @Test("Sequence Ordering › out-of-order seq values are rejected")
    func outOfOrderSeqRejected() async throws {
        try await forAll(25, "out-of-order seqs") { rng, seed in
            var a = seqString(&rng), b = seqString(&rng)
            while a == b { b = seqString(&rng) }
            if Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) { swap(&a, &b) }
            let p = ds.stream("prop")
            try await ds.put(p)
            #expect(try await ds.post(p, body: "x", [("Stream-Seq", a)]).status == 204, seed)
            #expect(try await ds.post(p, body: "y", [("Stream-Seq", b)]).status == 409, "\(seed): \(a) then \(b)")
        }
    }

    // §4.22 line 5271
    @Test("Concurrent Writer Stress › concurrent writers with sequence numbers - server handles gracefully")
    func concurrentSameSeq() async throws {
        let p = ds.stream("prop"), ds = ds
        try await ds.put(p)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for w in 0..<5 { group.addTask { try await ds.post(p, body: "writer-\(w)", [("Stream-Seq", "seq-001")]).status } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { [200, 204, 409].contains($0) }, "\(statuses)")
        #expect(statuses.contains { $0 == 200 || $0 == 204 })
        let text = try await ds.get(p).text
        #expect((0..<5).contains { text.contains("writer-\($0)") })
    }

    // §4.22 line 5319
    @Test("Concurrent Writer Stress › concurrent writers racing with incrementing seq values")
    func concurrentIncrementingSeq() async throws {
        try await forAll(10, "racing seqs") { rng, seed in
            let p = ds.stream("prop"), ds = ds
            try await ds.put(p)
            let n = Int.random(in: 3...8, using: &rng)
            let results = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                for w in 0..<n {
                    group.addTask { (w, try await ds.post(p, body: "w\(w);", [("Stream-Seq", String(format: "%04d", w))]).status) }
                }
                return try await group.reduce(into: [(Int, Int)]()) { $0.append($1) }
            }
            #expect(results.allSatisfy { [200, 204, 409].contains($0.1) }, seed)
            #expect(results.contains { $0.1 == 200 || $0.1 == 204 }, seed)
            let text = try await ds.get(p).text
            for (w, status) in results where status == 200 || status == 204 { #expect(text.contains("w\(w);"), seed) }
        }
    }

    // §4.22 line 5378
    @Test("Concurrent Writer Stress › concurrent appends without seq - all data is persisted")
    func concurrentAppends() async throws {
        let p = ds.stream("prop"), ds = ds
        try await ds.put(p)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<10 {
                group.addTask {
                    let r = try await ds.post(p, body: "payload-\(w);")
                    #expect([200, 204].contains(r.status))
                    #expect(r.nextOffset != nil)
                }
            }
            try await group.waitForAll()
        }
        let text = try await ds.get(p).text
        for w in 0..<10 { #expect(text.contains("payload-\(w);")) }
    }

    // §4.22 line 5420
    @Test("Concurrent Writer Stress › mixed readers and writers - readers see consistent state")
    func mixedReadersWriters() async throws {
        let p = ds.stream("prop"), ds = ds
        try await ds.put(p)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<10 {
                group.addTask {
                    let status = try await ds.post(p, body: "item-\(i);").status
                    #expect([200, 204].contains(status))
                }
                group.addTask {
                    let status = try await ds.get(p).status
                    #expect(status == 200)
                }
            }
            try await group.waitForAll()
        }
        let text = try await ds.get(p).text
        for i in 0..<10 { #expect(text.contains("item-\(i);")) }
    }

    // §4.22 line 5494
    @Test("State Hash › replay produces identical content hash")
    func replayHash() async throws {
        try await forAll(15, "replay hash") { rng, seed in
            let chunks = (0..<Int.random(in: 1...10, using: &rng)).map { _ in rng.bytes(1...100) }
            let a = ds.stream("prop"), b = ds.stream("prop")
            for p in [a, b] {
                try await ds.putBytes(p, ct: os, body: nil)
                for c in chunks { try await ds.postBytes(p, ct: os, body: c) }
            }
            let ra = try await ds.get(a).body, rb = try await ds.get(b).body
            #expect(fnv1a(ra) == fnv1a(rb), seed)
            #expect(ra.count == rb.count, seed)
        }
    }

    // §4.22 line 5554
    @Test("State Hash › content hash changes with each append")
    func hashChanges() async throws {
        let p = ds.stream("prop")
        try await ds.putBytes(p, ct: os, body: nil)
        var hashes: Set<UInt32> = []
        for i in 0..<5 {
            try await ds.postBytes(p, ct: os, body: Array("chunk-\(i)".utf8))
            hashes.insert(fnv1a(try await ds.get(p).body))
        }
        #expect(hashes.count == 5)
    }

    // §4.22 line 5582
    @Test("State Hash › empty stream has consistent hash")
    func emptyHash() async throws {
        let a = ds.stream("prop"), b = ds.stream("prop")
        try await ds.putBytes(a, ct: os, body: nil)
        try await ds.putBytes(b, ct: os, body: nil)
        let ra = try await ds.get(a).body, rb = try await ds.get(b).body
        #expect(ra.isEmpty && rb.isEmpty)
        #expect(fnv1a(ra) == fnv1a(rb))
    }

    // §4.22 line 5609
    @Test("State Hash › deterministic ordering - same data in same order produces same hash")
    func deterministicOrdering() async throws {
        try await forAll(10, "deterministic ordering") { rng, seed in
            let data = (0..<Int.random(in: 1...5, using: &rng)).map { _ in rng.bytes(1...50) }
            var hashes: [UInt32] = []
            for _ in 0..<2 {
                let p = ds.stream("prop")
                try await ds.putBytes(p, ct: os, body: nil)
                for d in data { try await ds.postBytes(p, ct: os, body: d) }
                hashes.append(fnv1a(try await ds.get(p).body))
            }
            #expect(hashes[0] == hashes[1], seed)
        }
    }
}
