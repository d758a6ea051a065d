/// SplitMix64 (Steele, Lea & Flood, "Fast Splittable Pseudorandom Number Generators", 2014):
/// a tiny seeded generator, so a seed replays a run exactly.
///
/// Raft draws its election timeouts from it (passed in, so a simulation replays), and the test
/// kit, the fuzzer and the property tests use it for their seeded cases. It lives in a target
/// of its own, standard library only, so every target and test can share one definition
/// without depending on `Raft` or on the NIO-based test kit. Its output for a seed must never
/// change: recorded seeds (fuzz findings, failing simulation runs) replay through it.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
