import Testing
@testable import StreamModel

/// Offsets (protocol §8.1), `ReadOffset` and the header number parsers (§2.1).
@Suite struct OffsetTests {
    @Test(arguments: [
        (Offset.zero, "0000000000000000_0000000000000000"),
        (Offset(position: 42), "0000000000000000_0000000000000042"),
        (Offset(epoch: 3, position: 1_234_567_890_123_456), "0000000000000003_1234567890123456"),
        (Offset(epoch: 0, position: 9_999_999_999_999_999), "0000000000000000_9999999999999999"),
        (Offset(epoch: 0, position: 10_000_000_000_000_000), "0000000000000000_10000000000000000"),
        (Offset(epoch: .max, position: .max), "18446744073709551615_18446744073709551615"),
    ])
    func formatting(_ offset: Offset, _ text: String) {
        #expect(offset.description == text)
        #expect(Offset(text) == offset)
    }

    @Test(arguments: [
        ("0_0", Offset.zero as Offset?),
        ("1_2", Offset(epoch: 1, position: 2)),
        ("0000000000000000_0000000000000005", Offset(position: 5)),
        ("00000000000000000000000000_7", Offset(position: 7)),
        ("18446744073709551615_0", Offset(epoch: .max, position: 0)),
        ("18446744073709551616_0", nil),
        ("0_18446744073709551616", nil),
        ("0_99999999999999999999999", nil),
        ("", nil),
        ("_", nil),
        ("1_", nil),
        ("_1", nil),
        ("1", nil),
        (" 1_1", nil),
        ("1_1 ", nil),
        ("1 _1", nil),
        ("1__1", nil),
        ("1_1_1", nil),
        ("-1", nil),
        ("-1_1", nil),
        ("1_-1", nil),
        ("+1_1", nil),
        ("now", nil),
        ("1,1", nil),
        ("1/1", nil),
        ("0x1_1", nil),
        ("1_1\n", nil),
        ("1_1\0", nil),
        ("١_١", nil),  // Arabic-Indic digits are not ASCII digits
        ("１_１", nil),  // fullwidth digits
    ])
    func parsing(_ text: String, _ expected: Offset?) {
        #expect(Offset(text) == expected)
    }

    @Test(arguments: [
        ("-1", ReadOffset.start as ReadOffset?),
        ("now", ReadOffset.now),
        ("0000000000000000_0000000000000003", ReadOffset.at(Offset(position: 3))),
        ("0_0", ReadOffset.at(.zero)),
        ("", nil),
        ("-2", nil),
        ("NOW", nil),
        ("now ", nil),
        (" -1", nil),
        ("-1_0", nil),
        ("..", nil),
        ("1_1,2_2", nil),
    ])
    func readOffset(_ text: String, _ expected: ReadOffset?) {
        #expect(ReadOffset(text) == expected)
        #expect(ReadOffset(Substring(text)) == expected)
    }

    @Test func ordering() {
        let sorted = [Offset.zero, Offset(position: 1), Offset(position: 10), Offset(position: .max),
                      Offset(epoch: 1, position: 0), Offset(epoch: 1, position: 5)]
        for i in sorted.indices {
            for j in sorted.indices {
                #expect((sorted[i] < sorted[j]) == (i < j))
                #expect((sorted[i] == sorted[j]) == (i == j))
            }
        }
        // Minted offsets below 10^16 sort the same as text (protocol §8.1).
        let texts = sorted.dropLast(3).map(\.description) + sorted.suffix(2).map(\.description)
        #expect(texts == texts.sorted())
    }

    @Test(arguments: [
        ("0", 0 as UInt64?),
        ("1", 1),
        ("3600", 3600),
        ("18446744073709551615", .max),
        ("18446744073709551616", nil),
        ("", nil),
        ("00", nil),
        ("01", nil),
        ("-1", nil),
        ("+1", nil),
        ("1.0", nil),
        ("1.", nil),
        ("1e3", nil),
        (" 1", nil),
        ("1 ", nil),
        ("0x10", nil),
    ])
    func canonicalUInt(_ text: String, _ expected: UInt64?) {
        #expect(parseCanonicalUInt(text) == expected)
    }

    @Test func canonicalUIntMaximum() {
        let max53: UInt64 = (1 << 53) - 1
        #expect(parseCanonicalUInt("9007199254740991", maximum: max53) == max53)
        #expect(parseCanonicalUInt("9007199254740992", maximum: max53) == nil)
    }

    /// `Producer-Epoch` / `Producer-Seq`: digits only, 0 ≤ n ≤ 2^53−1 (§2.1).
    @Test(arguments: [
        ("0", 0 as UInt64?),
        ("007", 7),
        ("9007199254740991", 9_007_199_254_740_991),
        ("9007199254740992", nil),
        ("", nil),
        ("1e3", nil),
        ("-1", nil),
        ("0xyz", nil),
        ("1.5", nil),
        ("99999999999999999999999", nil),
    ])
    func producerNumber(_ text: String, _ expected: UInt64?) {
        #expect(parseDigitsUInt(text, maximum: (1 << 53) - 1) == expected)
    }
}
