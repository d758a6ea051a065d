import Benchmark
import BenchmarkSupport
import Raft

/// Consensus cost through the pure Raft core (issue 4): a 3-voter group on a perfect network
/// (``PerfectNetworkGroup``) commits rounds of proposals.
///
/// One benchmark iteration runs `scalingFactor` (1,000) rounds, so every scaled figure
/// (time, CPU, mallocs, throughput) is per round. A round of batch 1 commits one entry; a
/// round of batch 64 commits 64, so per-entry figures are the per-round ones divided by the
/// batch size (docs/benchmarks.md, "Micro-benchmarks").
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = Suite.configuration(maxDuration: .seconds(3))

    for batch in RaftRound.batchSizes {
        // Names become file names under Thresholds/: no spaces or slashes.
        Benchmark("3-voter-commit-batch-\(batch)-\(RaftRound.payloadBytes)B") { benchmark, round in
            round.run(benchmark)
        } setup: {
            RaftRound(batch: batch)
        }
    }
}

/// The state one Raft benchmark keeps across its iterations: the group grows its log round
/// after round, compacting as a driver would.
final class RaftRound: @unchecked Sendable {
    static let batchSizes = [1, 64]
    /// Bytes of each proposed command, the size of the appends in the storage benchmarks.
    static let payloadBytes = 256

    private var group = PerfectNetworkGroup(voters: 3)
    private let commands: [[UInt8]]

    init(batch: Int) {
        commands = Array(repeating: [UInt8](repeating: 0x5A, count: Self.payloadBytes), count: batch)
    }

    func run(_ benchmark: Benchmark) {
        let before = group.committedOnLeader
        ProcessCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                group.commitRound(commands)
            }
        }
        let committed = group.committedOnLeader - before
        precondition(committed == benchmark.scaledIterations.count * commands.count,
                     "committed \(committed) entries, expected \(benchmark.scaledIterations.count * commands.count)")
    }
}
