import SeededRandom

/// The fuzzer's only source of randomness: the shared `SplitMix64` with small helpers, so a
/// seed replays a run byte for byte.
public struct FuzzRandom: RandomNumberGenerator, Sendable {
    private var base: SplitMix64

    public init(seed: UInt64) { base = SplitMix64(seed: seed) }

    /// The generator for case `index` of run `seed`: each case draws from its own stream, so
    /// one case can be regenerated (and replayed) without generating the ones before it.
    public init(seed: UInt64, index: Int) {
        var mixer = FuzzRandom(seed: seed ^ 0x5851_F42D_4C95_7F2D)
        for _ in 0...(index % 7) { _ = mixer.next() }
        base = SplitMix64(seed: mixer.next() ^ (UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15))
    }

    public mutating func next() -> UInt64 { base.next() }

    /// Uniform in `0..<n` (`n` > 0); modulo bias is irrelevant for fuzzing.
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0, "below(0)")
        return Int(next() % UInt64(n))
    }

    /// Uniform in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool {
        Double(next() >> 11) * 0x1.0p-53 < p
    }

    /// One element of a non-empty array.
    public mutating func pick<T>(_ choices: [T]) -> T {
        choices[below(choices.count)]
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    /// `count` random characters from `alphabet`.
    public mutating func token(_ count: Int, from alphabet: String = "ABCDEFGHIJKLMNOPQRSTUVWXYZ") -> String {
        let letters = Array(alphabet)
        return String((0..<count).map { _ in letters[below(letters.count)] })
    }
}
