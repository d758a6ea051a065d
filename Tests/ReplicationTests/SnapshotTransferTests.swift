import Foundation
import Logging
import Raft
import RunnelTesting
import Replication
import StreamModel
import Synchronization
import Testing

/// State transfer (docs/state-transfer.md) on RocksDB over the in-memory hub: snapshots taken
/// by the byte policy and on demand, the log compacted behind them, a node that joins after
/// the compaction catching up by snapshot, and a transfer cut in the middle completing.
@Suite(.serialized) struct SnapshotTransferTests {
    static func stream(_ name: String) -> StreamPath { StreamPath(bucket: "_default", name: name) }

    static func contents(_ store: Node, _ name: String) throws -> String? {
        guard let meta = store.stream(at: stream(name), now: 0) else { return nil }
        var out: [UInt8] = []
        var offset = Offset.zero
        while true {
            let chunk = try store.read(meta, from: offset, maxBytes: 1 << 20)
            out += chunk.bytes.readableBytesView
            guard !chunk.upToDate, chunk.nextOffset != offset else { break }
            offset = chunk.nextOffset
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes `streams` streams of `appends` appends each of `size` bytes through `node`.
    static func fill(_ node: Node, streams: Int, appends: Int, size: Int) async throws {
        for s in 0..<streams {
            _ = try await node.propose(.create(CreateStream(path: stream("s\(s)"), contentType: "text/plain")))
            for i in 0..<appends {
                let body = String(repeating: Character(UnicodeScalar(UInt8(97 + (i + s) % 26))), count: size)
                _ = try await node.propose(.append(AppendStream(path: stream("s\(s)"), contentType: "text/plain", body: .bytes(Array(body.utf8)))))
            }
        }
    }

    static func configure(_ c: inout NodeConfiguration) {
        c.snapshotEveryBytes = 256 << 10
        c.retainedLogEntries = 16
        c.maxFollowerLagEntries = 32
        c.raft.snapshotChunkBytes = 64 << 10
    }

    @Test func aNodeThatJoinsAfterCompactionCatchesUpBySnapshot() async throws {
        let cluster = try InProcessCluster(Self.configure)
        defer { cluster.shutdown() }
        let leader = try await cluster.leader()
        try await Self.fill(cluster[leader], streams: 4, appends: 40, size: 4096)
        let index = try await cluster[leader].takeSnapshot()
        #expect(index > 0)
        try await waitUntil("the leader compacted its log") { cluster[leader].clusterStatus.firstIndex > 100 }

        let joiner = try cluster.openJoiner(4) { Self.configure(&$0) }
        defer { joiner.shutdown() }
        _ = try await cluster[leader].addMember(id: 4, address: "memory:4")
        try await waitUntil("node 4 promoted", within: .seconds(30)) { joiner.clusterStatus.membership.isVoter(4) }
        try await waitUntil("node 4 caught up") { joiner.appliedIndex >= cluster[leader].appliedIndex }
        // Its log starts where the snapshot it installed ends: it never saw the entries below.
        #expect(joiner.clusterStatus.firstIndex > 100)
        for s in 0..<4 {
            #expect(try Self.contents(joiner, "s\(s)") == Self.contents(cluster[leader], "s\(s)"), "stream s\(s)")
        }
        // It keeps applying on top of the snapshot.
        _ = try await cluster[leader].propose(.append(AppendStream(path: Self.stream("s0"), contentType: "text/plain", body: .bytes(Array("!".utf8)))))
        try await waitUntil("the next write on node 4") { try Self.contents(joiner, "s0")?.hasSuffix("!") == true }
    }

    @Test func aTransferCutInTheMiddleCompletesAfterARestart() async throws {
        let cluster = try InProcessCluster(Self.configure)
        defer { cluster.shutdown() }
        let leader = try await cluster.leader()
        try await Self.fill(cluster[leader], streams: 2, appends: 60, size: 4096)
        _ = try await cluster[leader].takeSnapshot()
        try await waitUntil("the leader compacted its log") { cluster[leader].clusterStatus.firstIndex > 100 }

        // Let a few chunks through, then cut the joiner off and stop it mid-transfer.
        let chunks = Atomic<Int>(0)
        cluster.hub.setFilter { _, to, frame in
            guard to == 4, case .raft(let m) = frame, case .snapshotChunk = m.payload else { return true }
            return chunks.add(1, ordering: .relaxed).newValue <= 3
        }
        var joiner = try cluster.openJoiner(4) { Self.configure(&$0) }
        _ = try await cluster[leader].addMember(id: 4, address: "memory:4")
        try await waitUntil("three chunks sent") { chunks.load(ordering: .relaxed) > 3 }
        cluster.hub.unregister(4)
        joiner.shutdown()
        cluster.hub.heal()
        joiner = try cluster.openJoiner(4) { Self.configure(&$0) }
        defer { joiner.shutdown() }
        try await waitUntil("node 4 promoted", within: .seconds(30)) { joiner.clusterStatus.membership.isVoter(4) }
        try await waitUntil("node 4 caught up") { joiner.appliedIndex >= cluster[leader].appliedIndex }
        for s in 0..<2 {
            #expect(try Self.contents(joiner, "s\(s)") == Self.contents(cluster[leader], "s\(s)"), "stream s\(s)")
        }
    }
}
