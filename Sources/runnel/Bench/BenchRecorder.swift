import Foundation
import Histogram
import Synchronization

/// Latencies and outcomes of the requests of one connection (`append`) or one event loop
/// (`fanout`'s subscribers), so that the lock is contended only by the once-a-second
/// progress sample.
final class BenchRecorder: Sendable {
    /// What was measured (warm-up excluded).
    struct Totals {
        var latency = Histogram<UInt64>(highestTrackableValue: BenchRecorder.highestNanoseconds, numberOfSignificantValueDigits: .three)
        var succeeded = 0
        var bytes = 0
        var errors: [String: Int] = [:]

        mutating func add(_ other: Totals) {
            latency.add(other.latency)
            succeeded += other.succeeded
            bytes += other.bytes
            errors.merge(other.errors, uniquingKeysWith: +)
        }
    }

    static let highestNanoseconds: UInt64 = 120 * 1_000_000_000

    private let totals = Mutex(Totals())
    private let attempts = Atomic<Int>(0)
    private let failures = Atomic<Int>(0)

    /// One success that took `nanoseconds`, counted in the results when `measured`.
    func succeeded(nanoseconds: UInt64, bytes: Int, measured: Bool) {
        attempts.add(1, ordering: .relaxed)
        guard measured else { return }
        totals.withLock {
            _ = $0.latency.record(min(nanoseconds, Self.highestNanoseconds))
            $0.succeeded += 1
            $0.bytes += bytes
        }
    }

    /// One failure, by HTTP status or by kind ("io").
    func failed(_ kind: String, measured: Bool) {
        attempts.add(1, ordering: .relaxed)
        failures.add(1, ordering: .relaxed)
        guard measured else { return }
        totals.withLock { $0.errors[kind, default: 0] += 1 }
    }

    /// Everything so far, warm-up included: for progress lines.
    var attempted: Int { attempts.load(ordering: .relaxed) }
    var failed: Int { failures.load(ordering: .relaxed) }

    var snapshot: Totals { totals.withLock { $0 } }

    static func merged(_ recorders: [BenchRecorder]) -> Totals {
        var all = Totals()
        for recorder in recorders { all.add(recorder.snapshot) }
        return all
    }
}

/// Latency percentiles in milliseconds, for tables and JSON.
struct LatencySummary: Encodable {
    var count: UInt64
    var p50Ms: Double
    var p90Ms: Double
    var p99Ms: Double
    var p999Ms: Double
    var maxMs: Double

    init(_ histogram: Histogram<UInt64>) {
        func ms(_ nanoseconds: UInt64) -> Double { (Double(nanoseconds) / 1e3).rounded() / 1e3 }
        let empty = histogram.totalCount == 0
        count = histogram.totalCount
        p50Ms = empty ? 0 : ms(histogram.valueAtPercentile(50))
        p90Ms = empty ? 0 : ms(histogram.valueAtPercentile(90))
        p99Ms = empty ? 0 : ms(histogram.valueAtPercentile(99))
        p999Ms = empty ? 0 : ms(histogram.valueAtPercentile(99.9))
        maxMs = empty ? 0 : ms(histogram.max)
    }

    var cells: [String] { [p50Ms, p90Ms, p99Ms, p999Ms, maxMs].map { String(format: "%.3f ms", $0) } }
    static let columns = ["p50", "p90", "p99", "p99.9", "max"]
}

/// The process's own CPU time (user + system, all threads), to show when the load
/// generator rather than the server is the bottleneck.
struct CPUSample {
    var cpuSeconds: Double
    var wallNanoseconds: UInt64

    static func now() -> CPUSample {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return CPUSample(cpuSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime), wallNanoseconds: monotonicNanoseconds())
    }

    /// CPU used since `earlier`, as a percentage of one core.
    func percent(since earlier: CPUSample) -> Double {
        let wall = Double(wallNanoseconds - earlier.wallNanoseconds) / 1e9
        return wall > 0 ? ((cpuSeconds - earlier.cpuSeconds) / wall * 1000).rounded() / 10 : 0
    }
}

/// The clock every latency is measured on (monotonic, shared by writer and readers).
@inline(__always) func monotonicNanoseconds() -> UInt64 {
    DispatchTime.now().uptimeNanoseconds
}

/// A result row: a Markdown table for people, one JSON object per line for scripts.
protocol BenchResult: Encodable {
    static var columns: [String] { get }
    var cells: [String] { get }
}

/// Prints the results of a run to standard output.
func printResults<Row: BenchResult>(_ rows: [Row], json: Bool) {
    if json {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for row in rows {
            if let data = try? encoder.encode(row) { print(String(decoding: data, as: UTF8.self)) }
        }
        return
    }
    print("| " + Row.columns.joined(separator: " | ") + " |")
    print("|" + String(repeating: "---|", count: Row.columns.count))
    for row in rows { print("| " + row.cells.joined(separator: " | ") + " |") }
}

/// Runs `body` with a progress line on standard error about every second: the per-second
/// rate of `count` and the generator's CPU over that second.
func withProgress<T: Sendable>(
    count: @escaping @Sendable () -> Int,
    describe: @escaping @Sendable (_ second: Int, _ perSecond: Double, _ cpuPercent: Double) -> String,
    _ body: () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            var last = (count(), CPUSample.now())
            var second = 0
            while true {
                try await Task.sleep(for: .seconds(1))
                second += 1
                let now = (count(), CPUSample.now())
                let elapsed = Double(now.1.wallNanoseconds - last.1.wallNanoseconds) / 1e9
                progress(describe(second, Double(now.0 - last.0) / max(elapsed, 1e-9), now.1.percent(since: last.1)))
                last = now
            }
        }
        defer { group.cancelAll() }
        return try await body()
    }
}
