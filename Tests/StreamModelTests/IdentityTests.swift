import Testing
@testable import StreamModel

/// Names are bytes (api.md §1): spellings that Unicode calls equivalent but that differ in
/// bytes are different streams, buckets and producers (issue 13, findings 2 and 3).
@Suite struct IdentityTests {
    /// `café` precomposed (NFC) and decomposed (NFD): equal as Swift `String`s.
    static let nfc = "caf\u{E9}"
    static let nfd = "cafe\u{301}"

    @Test func canonicallyEquivalentSpellingsAreDifferentPaths() {
        #expect(Self.nfc == Self.nfd, "the premise: Swift String equality folds them")
        #expect(path(Self.nfc) != path(Self.nfd))
        #expect(path("\u{212B}") != path("\u{C5}"))  // ANGSTROM SIGN vs LATIN CAPITAL A WITH RING
        #expect(Set([path(Self.nfc), path(Self.nfd), path("\u{212B}"), path("\u{C5}"), path("A\u{30A}")]).count == 5)
        #expect(ProducerID(Self.nfc) != ProducerID(Self.nfd))
        #expect(producer(Self.nfc, 0, 0) != producer(Self.nfd, 0, 0))
    }

    @Test func pathsSortByBytesLikeTheirKeys() {
        // "Z" (0x5A) < "a" (0x61) < "é" (0xC3 0xA9); a bucket's bytes come before its names'.
        let sorted = [path("\u{E9}"), path("a"), path("Z"), path("a", bucket: "b")].sorted()
        #expect(sorted == [path("Z"), path("a"), path("\u{E9}"), path("a", bucket: "b")])
    }

    @Test func twoSpellingsAreTwoStreams() {
        var h = Harness()
        h.play([.run(create(Self.nfc, body: .text("A"))), .run(create(Self.nfd, body: .text("BB")))])
        #expect(h.model.streams.count == 2)
        #expect(h.meta(Self.nfc)?.tail == offset(1))
        #expect(h.meta(Self.nfd)?.tail == offset(2))
        #expect(h.model.buckets[defaultBucket]?.streamCount == 2)
    }

    /// The race of the finding: `DELETE A` and `PUT B` for the two spellings. Whatever the
    /// order, the other stream is untouched and the bucket's count stays exact.
    @Test func deletingOneSpellingLeavesTheOther() {
        for deleteFirst in [true, false] {
            var h = Harness()
            h.play([.run(create(Self.nfc)), .run(append(Self.nfc, "abc"))])
            if deleteFirst {
                h.play([.run(delete(Self.nfc)), .run(create(Self.nfd))])
            } else {
                h.play([.run(create(Self.nfd)), .run(delete(Self.nfc))])
            }
            #expect(h.meta(Self.nfc) == nil)
            #expect(h.meta(Self.nfd)?.tail == offset(0))
            #expect(h.model.buckets[defaultBucket]?.streamCount == 1)
            h.play([.run(delete(Self.nfd)), .reject(delete(Self.nfd), .streamNotFound)])
            #expect(h.model.buckets[defaultBucket]?.streamCount == 0)
        }
    }

    @Test func producersThatDifferInBytesAreDifferentProducers() {
        var h = Harness()
        h.play([.run(create("s"))])
        for (index, id) in [Self.nfc, Self.nfd, "\u{FFFD}"].enumerated() {
            let result = h.run(append("s", "x", producer: producer(id, 0, 0)))
            #expect(Expected.appended(next: UInt64(index + 1), wrote: true, producer: Echo(0, 0)).matches(result),
                    "producer \(Array(id.utf8)): \(result)")
        }
        #expect(h.meta("s")?.producers.count == 3)
    }

    @Test func aClosingProducerIsRecognisedByBytes() {
        var h = Harness()
        h.play([.run(create("s")), .run(append("s", "x", close: true, producer: producer(Self.nfc, 0, 0)))])
        // The NFD spelling is another producer: not a retry of the close.
        let result = h.run(append("s", "x", close: true, producer: producer(Self.nfd, 0, 0)))
        #expect(Expected.rejected(.streamClosed).matches(result), "\(result)")
    }
}
