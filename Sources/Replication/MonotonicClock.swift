/// The one monotonic clock of the node: ticks, linger, proposal and read deadlines and fsync
/// timings all read it, in nanoseconds since an arbitrary origin. Injected through
/// `NodeConfiguration.monotonicClock`, so a test can drive it; the wall clock the leader
/// stamps into commands is separate (`NodeConfiguration.clock`), because it must be
/// comparable across nodes and this one need not.
public struct MonotonicClock: Sendable {
    public var nanoseconds: @Sendable () -> UInt64

    public init(nanoseconds: @escaping @Sendable () -> UInt64) {
        self.nanoseconds = nanoseconds
    }

    /// `ContinuousClock`, the clock the HTTP layer's deadlines use too.
    public static let continuous: MonotonicClock = {
        let origin = ContinuousClock.now
        return MonotonicClock { (ContinuousClock.now - origin).wholeNanoseconds }
    }()
}

extension Duration {
    /// Whole nanoseconds, saturating at the bounds of `UInt64` (negative durations are 0).
    var wholeNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (scaled, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, overflow2) = scaled.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return overflow || overflow2 ? .max : sum
    }
}
