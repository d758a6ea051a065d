import Foundation
import Raft
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(RunnelTesting)
import RunnelTesting
#else
import RaftSimulation
#endif

/// The replay line to print if a precondition in the core traps mid-run (the process dies, so
/// the test cannot report the seed itself). Written before each seed, read by the signal handler.
nonisolated(unsafe) private var crashNote: [UInt8] = []

private func installCrashNote() {
    let handler: @convention(c) (Int32) -> Void = { sig in
        crashNote.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count) }
        signal(sig, SIG_DFL)
        raise(sig)
    }
    signal(SIGILL, handler)
    signal(SIGTRAP, handler)
}

/// Seeded whole-cluster simulations. `RUNNEL_SIM_START` / `RUNNEL_SIM_SEEDS` pick the seeds
/// (`make sim SEEDS=N START=S`); a failure prints the seed, the violated invariant and a replay line.
@Suite struct RaftSimulationTests {
    static func environment(_ name: String) -> UInt64? {
        guard let p = getenv(name) else { return nil }
        return UInt64(String(cString: p))
    }

    /// A seed replays exactly: two runs produce the same event trace.
    @Test func seedReplaysExactly() {
        var options = SimulationOptions(steps: 600, livenessSteps: 300)
        options.trace = true
        options.traceLimit = 1_000_000
        let a = ClusterSimulation.run(seed: 42, options: options)
        let b = ClusterSimulation.run(seed: 42, options: options)
        guard case .success(let ra) = a, case .success(let rb) = b else {
            Issue.record("seed 42 failed")
            return
        }
        #expect(ra.trace.count > 1000)
        #expect(ra.trace == rb.trace)
        #expect(ra.messagesSent == rb.messagesSent && ra.proposalsAcked == rb.proposalsAcked)
    }

    /// Prints a full trace of one seed: `RUNNEL_SIM_TRACE_SEED=<seed> swift test --filter traceOneSeed`.
    @Test func traceOneSeed() {
        guard let seed = Self.environment("RUNNEL_SIM_TRACE_SEED") else { return }
        var options = SimulationOptions()
        options.trace = true
        options.traceLimit = 1_000_000
        let sim = ClusterSimulation.run(seed: seed, options: options)
        switch sim {
        case .success(let r): print(r.trace.joined(separator: "\n") + "\nseed \(seed) passed")
        case .failure(let f): print(f.description)
        }
    }

    /// The in-memory log bound at its smallest: every entry that may be evicted is, so
    /// lagging followers, restarts and the apply loop are fed from the simulated disk.
    @Test func simulationWithATinyLogCache() async {
        let outcome = await onOwnThread { () -> (failure: String?, reads: Int) in
            var reads = 0
            for seed in UInt64(1)...30 {
                var options = SimulationOptions(steps: 1000, livenessSteps: 400)
                options.configure = { $0.maxInMemoryLogBytes = 1 }
                switch ClusterSimulation.run(seed: seed, options: options) {
                case .success(let r): reads += r.sourceReads
                case .failure(let f): return ("tiny log cache: \(f.description)", reads)
                }
            }
            return (nil, reads)
        }
        if let failure = outcome.failure { Issue.record(Comment(rawValue: failure)) }
        #expect(outcome.reads > 0)
    }

    @Test func seededClusterSimulation() async {
        let start = Self.environment("RUNNEL_SIM_START") ?? 1
        let count = Self.environment("RUNNEL_SIM_SEEDS") ?? 200
        let traceLines = Int(Self.environment("RUNNEL_SIM_TRACE_LINES") ?? 300)
        installCrashNote()
        let outcome = await onOwnThread { Self.runSeeds(start: start, count: count, traceLines: traceLines) }
        print(outcome.report)
        if let failure = outcome.failure { Issue.record(Comment(rawValue: failure)) }
        #expect(outcome.proposalsAcked > 0)
    }

    /// Seeds `start..<start+count`, stopping at the first failure (replayed with tracing on).
    static func runSeeds(start: UInt64, count: UInt64, traceLines: Int) -> (report: String, failure: String?, proposalsAcked: Int) {
        var totals = SimulationReport()
        var worstLivenessSeed: UInt64 = 0
        for seed in start..<(start + count) {
            crashNote = Array("\nraft simulation trapped at seed \(seed); replay: RUNNEL_SIM_START=\(seed) RUNNEL_SIM_SEEDS=1 make sim\n".utf8)
            switch ClusterSimulation.run(seed: seed) {
            case .success(let r):
                totals.proposalsAcked += r.proposalsAcked
                totals.readsCompleted += r.readsCompleted
                totals.crashes += r.crashes
                totals.snapshotsInstalled += r.snapshotsInstalled
                totals.snapshotsRejected += r.snapshotsRejected
                totals.sourceReads += r.sourceReads
                totals.membershipChanges += r.membershipChanges
                totals.leaderElections += r.leaderElections
                if r.livenessStepsToCommit > totals.livenessStepsToCommit {
                    totals.livenessStepsToCommit = r.livenessStepsToCommit
                    worstLivenessSeed = seed
                }
            case .failure(let failure):
                // Replay with tracing for the last events before the violation.
                var traced = SimulationOptions()
                traced.trace = true
                traced.traceLimit = traceLines
                let detail: String
                if case .failure(let tf) = ClusterSimulation.run(seed: seed, options: traced) {
                    detail = tf.description
                } else {
                    detail = failure.description + "\n  (did not reproduce with tracing on)"
                }
                return (detail, "Raft simulation failed: \(failure.invariant) at seed \(seed); replay: \(failure.replay)", totals.proposalsAcked)
            }
        }
        let report = "raft simulation: seeds \(start)..<\(start + count): acked=\(totals.proposalsAcked) reads=\(totals.readsCompleted) crashes=\(totals.crashes) snapshots installed=\(totals.snapshotsInstalled) rejected=\(totals.snapshotsRejected) log reads from disk=\(totals.sourceReads) membership changes=\(totals.membershipChanges) elections=\(totals.leaderElections) worst liveness=\(totals.livenessStepsToCommit) steps (seed \(worstLivenessSeed))"
        return (report, nil, totals.proposalsAcked)
    }
}
