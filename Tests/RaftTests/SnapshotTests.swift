@testable import Raft
import Testing

@Suite struct SnapshotTests {
    /// Elects 1 in {1,2,3}, commits `count` entries with node 3 cut off, then compacts node 1.
    static func compactedCluster(count: Int, chunk: Int, snapshotBytes: Int) -> Harness {
        var h = Harness(voters: [1, 2, 3]) { $0.snapshotChunkBytes = chunk }
        h.elect(1)
        h.isolate(3)
        for i in 0..<count { h.propose(1, [UInt8(i)]) }
        h.stabilize()
        let applied = h[1].appliedIndex
        let data = (0..<snapshotBytes).map { UInt8(truncatingIfNeeded: $0) }
        _ = try! h[1].snapshotTaken(index: applied, data: data)
        return h
    }

    @Test func snapshotCompactsTheLog() throws {
        var h = Harness(voters: [1])
        h.elect(1)
        for i in 0..<5 { h.propose(1, [UInt8(i)]) }
        h.stabilize()
        let meta = try h[1].snapshotTaken(index: 4, data: [1, 2, 3])
        #expect(meta == SnapshotMetadata(index: 4, term: 1, membership: Membership(voters: [1])))
        #expect(h[1].firstIndex == 5)
        #expect(h[1].term(at: 3) == nil)
        #expect(h[1].term(at: 4) == 1)
        #expect(throws: RaftError(.snapshotOutOfRange)) { try h[1].snapshotTaken(index: 4, data: []) }
        #expect(throws: RaftError(.snapshotOutOfRange)) { try h[1].snapshotTaken(index: 99, data: []) }
    }

    @Test func laggingFollowerReceivesTheSnapshotInChunks() {
        var h = Self.compactedCluster(count: 10, chunk: 10, snapshotBytes: 35)
        h.heal()
        h.tickAll(3)
        let chunks = h.delivered.filter { if case .snapshotChunk = $0.payload { $0.to == 3 } else { false } }
        #expect(chunks.count == 4, "35 bytes in 10-byte chunks")
        #expect(h.snapshotsInstalled[3]?.count == 1)
        #expect(h.snapshotsInstalled[3]?.first?.data == (0..<35).map { UInt8($0) })
        #expect(h[3].firstIndex == h[1].firstIndex)
        #expect(h[3].commitIndex == h[1].commitIndex)
        // And it is back to normal replication afterwards.
        h.propose(1, [99])
        h.stabilize()
        #expect(h.appliedData(3) == [[99]])
    }

    @Test func interruptedTransferResumesFromTheFollowersOffset() {
        var h = Self.compactedCluster(count: 10, chunk: 10, snapshotBytes: 35)
        h.heal()
        // Heartbeat rounds reveal the lost appends and start the transfer; lose the second chunk.
        var lost = false
        for _ in 0..<4 where !lost {
            h.tick(1, h.config.heartbeatTicks)
            for _ in 0..<20 {
                h.processAll()
                let batch = h.queue
                h.queue = []
                for m in batch {
                    if case .snapshotChunk(_, _, let offset, _, _) = m.payload, offset == 10, !lost {
                        lost = true
                        continue
                    }
                    h.deliver(m)
                }
            }
        }
        #expect(lost)
        #expect(h.snapshotsInstalled[3] == nil)
        // Heartbeats notice the stuck chunk and resend it; the transfer continues at byte 10.
        h.tickAll(6)
        #expect(h.snapshotsInstalled[3]?.count == 1)
        let offsets = h.delivered.compactMap { m -> UInt64? in
            if case .snapshotChunk(_, _, let o, _, _) = m.payload, m.to == 3 { return o }
            return nil
        }
        #expect(offsets.filter { $0 == 0 }.count == 1, "never restarted: \(offsets)")
    }

    @Test func newerSnapshotRestartsTheTransferCleanly() {
        var h = Self.compactedCluster(count: 10, chunk: 10, snapshotBytes: 35)
        h.heal()
        h.tick(1, h.config.heartbeatTicks)
        // Let the transfer start, then take a newer snapshot mid-way.
        for _ in 0..<3 {
            h.processAll()
            let batch = h.queue
            h.queue = []
            for m in batch { h.deliver(m) }
        }
        h.cutLink(1, 3)
        h.propose(1, [50])
        h.stabilize()
        _ = try! h[1].snapshotTaken(index: h[1].appliedIndex, data: Array(repeating: 7, count: 25))
        h.heal()
        h.tickAll(8)
        #expect(h.snapshotsInstalled[3]?.last?.data == Array(repeating: 7, count: 25))
        #expect(h.snapshotsInstalled[3]?.count == 1, "the half-received older snapshot was discarded")
        #expect(h[3].commitIndex == h[1].commitIndex)
    }

    @Test func followerRejectsAChunkFromAnotherTransfer() {
        var node = RaftNode(id: 2, configuration: Harness.defaultConfig(), state: .bootstrap(voters: [1, 2]))
        let meta = SnapshotMetadata(index: 9, term: 1, membership: Membership(voters: [1, 2]))
        node.receive(Message(from: 1, to: 2, term: 1, payload: .snapshotChunk(metadata: meta, totalBytes: 20, offset: 10, data: [1], done: false)))
        var rd = node.ready()
        #expect(rd.messagesAfterPersist.map(\.description) == ["2->1 t1 snapshotResponse snap=9 next=0 installed=0"])
        node.receive(Message(from: 1, to: 2, term: 1, payload: .snapshotChunk(metadata: meta, totalBytes: 20, offset: 0, data: Array(repeating: 1, count: 10), done: false)))
        node.receive(Message(from: 1, to: 2, term: 1, payload: .snapshotChunk(metadata: meta, totalBytes: 20, offset: 0, data: Array(repeating: 1, count: 10), done: false)))
        node.receive(Message(from: 1, to: 2, term: 1, payload: .snapshotChunk(metadata: meta, totalBytes: 20, offset: 10, data: Array(repeating: 2, count: 10), done: true)))
        rd = node.ready()
        #expect(rd.messagesAfterPersist.map(\.description) == [
            "2->1 t1 snapshotResponse snap=9 next=10 installed=0",
            "2->1 t1 snapshotResponse snap=9 next=10 installed=0",
            "2->1 t1 snapshotResponse snap=9 next=20 installed=9",
        ])
        #expect(rd.snapshot?.metadata == meta)
        #expect(rd.snapshot?.data == Array(repeating: 1, count: 10) + Array(repeating: 2, count: 10))
        #expect(rd.persistedMark == LogPosition(index: 9, term: 1))
        #expect(node.commitIndex == 9 && node.lastIndex == 9 && node.appliedIndex == 9)
    }

    @Test func transferFromANewLeaderStartsOver() {
        var node = RaftNode(id: 3, configuration: Harness.defaultConfig(), state: .bootstrap(voters: [1, 2, 3]))
        let meta = SnapshotMetadata(index: 9, term: 1, membership: Membership(voters: [1, 2, 3]))
        let chunk = { (from: NodeID, term: UInt64, offset: UInt64, done: Bool) in
            Message(from: from, to: 3, term: term, payload: .snapshotChunk(
                metadata: meta, totalBytes: 4, offset: offset, data: [UInt8(from), UInt8(from)], done: done))
        }
        node.receive(chunk(1, 1, 0, false))
        // Leader 1 is gone mid-transfer; leader 2 of term 2 sends the same snapshot index.
        node.receive(chunk(2, 2, 2, true))
        node.receive(chunk(2, 2, 0, false))
        node.receive(chunk(2, 2, 2, true))
        let rd = node.ready()
        #expect(rd.messagesAfterPersist.map(\.description) == [
            "3->1 t1 snapshotResponse snap=9 next=2 installed=0",
            "3->2 t2 snapshotResponse snap=9 next=0 installed=0",
            "3->2 t2 snapshotResponse snap=9 next=2 installed=0",
            "3->2 t2 snapshotResponse snap=9 next=4 installed=9",
        ])
        #expect(rd.snapshot?.data == [2, 2, 2, 2], "no bytes from the first leader's transfer")
    }

    @Test func restartFromASnapshotAndLaterEntries() {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        for i in 0..<6 { h.propose(1, [UInt8(i)]) }
        h.stabilize()
        let meta = try! h[2].snapshotTaken(index: 4, data: [4])
        h.disks[2]!.snapshot = Snapshot(metadata: meta, data: [4])
        h.disks[2]!.entries.removeFirst(4)
        h.restart(2)
        #expect(h[2].firstIndex == 5)
        #expect(h[2].appliedIndex == 4)
        h.tickAll(2)
        #expect(h.applied[2]!.map(\.index) == [5, 6, 7])
    }
}
