import Benchmark

/// How far a run may stray from the committed thresholds (`Benchmarks/Thresholds/`, written by
/// `swift package benchmark thresholds update`) before `thresholds check` fails.
///
/// The check compares each metric's p90 with the stored p90 and fails on a regression and on
/// an improvement beyond the tolerance alike (exit codes 2 and 4). The figures come from a
/// 2-core VM whose cores other work (compilers, tests) shares: a process waiting for a core
/// has been seen at 6× its usual wall time, while its CPU time moved by about a fifth. So CPU
/// time is the time gate and wall time only catches gross regressions. Allocation counts do
/// not depend on the machine's load, so they are held tight: on the pure paths one extra
/// allocation per operation fails the check.
public enum Tolerances {
    /// Percent wall time may grow: up to 11× the stored p90.
    public static let wallTime = 1_000.0
    /// Percent process CPU time may grow: up to 2× the stored p90. Less sensitive to the
    /// machine's load than wall time, but caches and the other core's work still move it.
    public static let cpuTime = 100.0
    /// Throughput is the reciprocal of wall time, which already carries the regression check;
    /// this only keeps a run on a quiet machine (up to 11× faster than the stored figure)
    /// from failing as an "improvement".
    public static let throughput = 1_000.0
    /// Percent the allocation count may move either way on paths that run on the measuring
    /// thread only.
    public static let mallocs = 1.0
    /// Percent for paths whose process-wide count includes RocksDB's background threads
    /// (memtable flushes, compactions), which allocate whenever they happen to run.
    public static let mallocsWithBackgroundWork = 100.0

    /// The tolerances by metric, with `mallocs` percent for the allocation count.
    public static func byMetric(mallocs: Double = mallocs) -> [BenchmarkMetric: BenchmarkThresholds] {
        [
            .wallClock: BenchmarkThresholds(relative: [.p90: wallTime]),
            ProcessCPU.metric: BenchmarkThresholds(relative: [.p90: cpuTime]),
            .throughput: BenchmarkThresholds(relative: [.p90: throughput]),
            .mallocCountTotal: BenchmarkThresholds(relative: [.p90: mallocs]),
        ]
    }
}
