import Benchmark

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU time of the whole process (every thread, so RocksDB's background work too), read with
/// `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)` around the measured loop.
///
/// package-benchmark's own `cpuTotal` comes from the kernel's per-process tick counters, which
/// on the development VM advance in 10 ms steps: most iterations here are shorter than one
/// step, so that metric reads 0 or 10 ms. This one has nanosecond resolution.
public enum ProcessCPU {
    /// Per operation (scaled like the time metrics); stored with the static thresholds under
    /// its name.
    public static let metric = BenchmarkMetric.custom("CPU time, process (ns)", polarity: .prefersSmaller, useScalingFactor: true)

    /// Runs `body` and records the CPU time the process spent meanwhile.
    @inline(__always)
    public static func measure(_ benchmark: Benchmark, _ body: () -> Void) {
        let start = now()
        body()
        benchmark.measurement(metric, now() - start)
    }

    static func now() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Int(time.tv_sec) * 1_000_000_000 + Int(time.tv_nsec)
    }
}
