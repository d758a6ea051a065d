import BinaryCodec
import Testing

/// CRC-32C against published check values (RFC 3720 appendix B.4 and the catalogue's
/// "123456789"), and the same value however the bytes are split or passed.
@Suite struct CRC32CTests {
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C().value == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func anySplitGivesTheSameValue() {
        var rng: UInt64 = 7
        func next() -> UInt64 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return rng >> 33
        }
        let bytes = (0..<10_000).map { _ in UInt8(truncatingIfNeeded: next()) }
        let whole = CRC32C.checksum(bytes)
        for _ in 0..<50 {
            var crc = CRC32C()
            var at = 0
            while at < bytes.count {
                let n = min(Int(next() % 40), bytes.count - at)
                crc.update(bytes[at..<(at + n)])  // slices start at every alignment
                at += n
            }
            #expect(crc.value == whole)
        }
        // A sequence without contiguous storage takes the byte-at-a-time path.
        #expect(CRC32C.checksum(bytes.lazy.map { $0 }) == whole)
        var raw = CRC32C()
        bytes.withUnsafeBytes { raw.update($0) }
        #expect(raw.value == whole)
    }
}
