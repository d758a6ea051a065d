@testable import Raft
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Measures (does not assert) the CPU cost of consensus: entries committed per second through
/// three pure nodes on a perfect network with instant persistence. Run it in release:
/// `RUNNEL_RAFT_BENCH_ENTRIES=1000000 swift test -c release -Xswiftc -enable-testing --filter RaftThroughputTests`
@Suite struct RaftThroughputTests {
    static var entries: Int {
        getenv("RUNNEL_RAFT_BENCH_ENTRIES").flatMap { Int(String(cString: $0)) } ?? 3_000
    }

    func measure(batch: Int, payload: Int) -> (perSecond: Double, rounds: Int) {
        var h = Harness(voters: [1, 2, 3]) {
            $0.maxUncommittedBytes = Int.max
            $0.maxEntriesPerMessage = 1024
            $0.maxMessageBytes = 8 << 20
        }
        h.elect(1)
        let data = [UInt8](repeating: 0x5A, count: payload)
        let total = Self.entries
        let clock = ContinuousClock()
        var rounds = 0
        let start = clock.now
        var proposed = 0
        while proposed < total {
            let n = min(batch, total - proposed)
            _ = try! h[1].propose(batch: Array(repeating: data, count: n))
            proposed += n
            h.stabilize()
            rounds += 1
            if rounds % 64 == 0 {
                // Keep memory flat, as a driver would by snapshotting.
                for id in h.ids {
                    guard let meta = try? h[id].snapshotTaken(index: h[id].appliedIndex, data: []) else { continue }
                    let base = h.disks[id]!.snapshot?.metadata.index ?? 0
                    h.disks[id]!.entries.removeFirst(Int(meta.index - base))
                    h.disks[id]!.snapshot = Snapshot(metadata: meta)
                }
                h.applied = [:]
            }
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        #expect(h[1].commitIndex >= UInt64(total))
        return (Double(total) / seconds, rounds)
    }

    @Test func committedEntriesPerSecond() {
        let only = getenv("RUNNEL_RAFT_BENCH_BATCH").flatMap { Int(String(cString: $0)) }
        for (batch, payload) in [(1, 100), (64, 100), (512, 100)] where only == nil || only == batch {
            let r = measure(batch: batch, payload: payload)
            print("raft throughput: 3 nodes, batch \(batch), \(payload)-byte entries: \(Int(r.perSecond)) entries/s committed (\(Self.entries) entries, \(r.rounds) rounds)")
        }
    }
}
