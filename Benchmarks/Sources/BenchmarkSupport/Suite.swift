import Benchmark

/// The configuration every suite starts from: the four metrics, in nanoseconds,
/// 1,000 operations per iteration (so every scaled figure is per operation) and
/// ``Tolerances``.
public enum Suite {
    public static func configuration(maxDuration: Duration) -> Benchmark.Configuration {
        Benchmark.Configuration(
            metrics: [.throughput, .wallClock, ProcessCPU.metric, .mallocCountTotal],
            timeUnits: .nanoseconds,
            units: [ProcessCPU.metric: .count],
            warmupIterations: 2,
            scalingFactor: .kilo,
            maxDuration: maxDuration,
            maxIterations: 10_000,
            thresholds: Tolerances.byMetric()
        )
    }
}
