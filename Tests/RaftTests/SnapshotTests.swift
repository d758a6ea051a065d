@testable import Raft
import Testing

@Suite struct SnapshotTests {
    /// Elects 1 in {1,2,3}, commits `count` entries with node 3 cut off, then takes a snapshot
    /// file of `snapshotBytes` bytes on node 1 and compacts its log through it.
    static func compactedCluster(count: Int, chunk: Int, snapshotBytes: Int) -> Harness {
        var h = Harness(voters: [1, 2, 3]) { $0.snapshotChunkBytes = chunk }
        h.elect(1)
        h.isolate(3)
        for i in 0..<count { h.propose(1, [UInt8(i)]) }
        h.stabilize()
        let applied = h[1].appliedIndex
        try! h.takeSnapshot(1, index: applied, data: Self.bytes(snapshotBytes))
        return h
    }

    static func bytes(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0) } }

    static func chunkOffsets(_ h: Harness, to id: NodeID) -> [UInt64] {
        h.delivered.compactMap { m -> UInt64? in
            if case .snapshotChunk(_, _, let o, _, _) = m.payload, m.to == id { return o }
            return nil
        }
    }

    @Test func snapshotTakenDoesNotCompactCompactDoes() throws {
        var h = Harness(voters: [1])
        h.elect(1)
        for i in 0..<5 { h.propose(1, [UInt8(i)]) }
        h.stabilize()
        #expect(throws: RaftError(.compactionOutOfRange)) { try h[1].compact(through: 2) }
        let meta = try h[1].snapshotTaken(index: 4, size: 3)
        #expect(meta == SnapshotMetadata(index: 4, term: 1, membership: Membership(voters: [1])))
        #expect(h[1].availableSnapshot == Snapshot(metadata: meta, size: 3))
        #expect(h[1].firstIndex == 1, "taking a snapshot leaves the log alone")
        #expect(throws: RaftError(.compactionOutOfRange)) { try h[1].compact(through: 5) }
        let start = try h[1].compact(through: 2)
        #expect(start == SnapshotMetadata(index: 2, term: 1, membership: Membership(voters: [1])))
        #expect(h[1].firstIndex == 3)
        #expect(try h[1].compact(through: 4).index == 4)
        #expect(h[1].firstIndex == 5)
        #expect(h[1].term(at: 3) == nil)
        #expect(h[1].term(at: 4) == 1)
        #expect(try h[1].compact(through: 3).index == 4, "at or below the start: nothing changes")
        #expect(throws: RaftError(.snapshotOutOfRange)) { try h[1].snapshotTaken(index: 4, size: 0) }
        #expect(throws: RaftError(.snapshotOutOfRange)) { try h[1].snapshotTaken(index: 99, size: 0) }
        #expect(h[1].snapshotMetadata(at: 99) == nil)
    }

    @Test func laggingFollowerReceivesTheSnapshotInChunkReads() {
        var h = Self.compactedCluster(count: 10, chunk: 10, snapshotBytes: 35)
        h.healBeforeStallIsRevealed()
        h.tickAll(3)
        let reads = h.chunkReads.filter { $0.to == 3 }
        #expect(reads.map(\.offset) == [0, 10, 20, 30])
        #expect(reads.map(\.length) == [10, 10, 10, 5])
        #expect(reads.map(\.done) == [false, false, false, true])
        #expect(reads.allSatisfy { $0.totalBytes == 35 && $0.metadata == h[1].latestSnapshotMetadata && $0.term == h[1].term })
        #expect(h.snapshotsInstalled[3]?.count == 1)
        #expect(h.snapshotsInstalled[3]?.first?.data == Self.bytes(35))
        #expect(h.files[3]?.data == Self.bytes(35), "the installed file is the follower's snapshot now")
        #expect(h[3].availableSnapshot == Snapshot(metadata: h[1].latestSnapshotMetadata!, size: 35))
        #expect(h[3].firstIndex == h[1].firstIndex)
        #expect(h[3].commitIndex == h[1].commitIndex)
        // And it is back to normal replication afterwards.
        h.propose(1, [99])
        h.stabilize()
        #expect(h.appliedData(3) == [[99]])
    }

    @Test func oneChunkReadInFlightAndResentWhenStuck() {
        var h = Self.compactedCluster(count: 10, chunk: 10, snapshotBytes: 35)
        h.healBeforeStallIsRevealed()
        // Node 3's answers to chunks are lost; everything else goes through.
        func round(_ h: inout Harness) {
            for _ in 0..<20 {
                h.processAll()
                let batch = h.queue
                h.queue = []
                for m in batch {
                    if case .snapshotResponse = m.payload, m.from == 3 { continue }
                    h.deliver(m)
                }
            }
        }
        // Heartbeat rounds reveal the lost appends and start the transfer.
        for _ in 0..<6 where h.chunkReads.isEmpty {
            h.tick(1, h.config.heartbeatTicks)
            round(&h)
        }
        #expect(h.chunkReads.filter { $0.to == 3 }.map(\.offset) == [0], "one chunk in flight")
        // Heartbeats without an answer: after a few the same chunk is read and sent again.
        for _ in 0..<4 {
            h.tick(1, h.config.heartbeatTicks)
            round(&h)
        }
        let offsets = h.chunkReads.filter { $0.to == 3 }.map(\.offset)
        #expect(offsets.count >= 2 && offsets.allSatisfy { $0 == 0 }, "\(offsets)")
        h.heal()
        h.tickAll(6)
        #expect(h.snapshotsInstalled[3]?.count == 1)
    }

    @Test func chunkMessageIsBuiltOnlyForTheReadsTermAndLength() {
        var h = Self.compactedCluster(count: 10, chunk: 10, snapshotBytes: 35)
        h.healBeforeStallIsRevealed()
        h.tickAll(3)
        guard let read = h.chunkReads.first(where: { $0.to == 3 }) else {
            Issue.record("no chunk read")
            return
        }
        let data = Array(h.files[1]!.data[Int(read.offset)..<(Int(read.offset) + read.length)])
        let m = h[1].snapshotChunkMessage(for: read, data: data)
        #expect(m?.from == 1 && m?.to == 3 && m?.term == read.term)
        #expect(h[1].snapshotChunkMessage(for: read, data: Array(data.dropLast())) == nil, "a short read is not sent")
        var stale = read
        stale.term += 1
        #expect(h[1].snapshotChunkMessage(for: stale, data: data) == nil)
        #expect(h[2].snapshotChunkMessage(for: read, data: data) == nil, "only the leader sends chunks")
    }

    @Test func interruptedTransferResumesFromTheFollowersOffset() {
        var h = Self.compactedCluster(count: 10, chunk: 10, snapshotBytes: 35)
        h.healBeforeStallIsRevealed()
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
        #expect(h.snapshotsInstalled[3]?.first?.data == Self.bytes(35))
        let offsets = Self.chunkOffsets(h, to: 3)
        #expect(offsets.filter { $0 == 0 }.count == 1, "never restarted: \(offsets)")
    }

    @Test func checksumFailureRestartsTheTransferFromByteZero() {
        var h = Self.compactedCluster(count: 10, chunk: 10, snapshotBytes: 35)
        h.rejectSnapshots.insert(3)
        h.healBeforeStallIsRevealed()
        h.tickAll(4)
        let offsets = Self.chunkOffsets(h, to: 3)
        #expect(offsets == [0, 10, 20, 30, 0, 10, 20, 30], "\(offsets)")
        #expect(h.snapshotsInstalled[3]?.count == 1, "the second, verified copy is installed")
        #expect(h.snapshotsInstalled[3]?.first?.data == Self.bytes(35))
        #expect(h[3].commitIndex == h[1].commitIndex)
    }

    @Test func newerSnapshotRestartsTheTransferCleanly() {
        var h = Self.compactedCluster(count: 10, chunk: 10, snapshotBytes: 35)
        h.healBeforeStallIsRevealed()
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
        try! h.takeSnapshot(1, index: h[1].appliedIndex, data: Array(repeating: 7, count: 25))
        h.healBeforeStallIsRevealed()
        h.tickAll(8)
        #expect(h.snapshotsInstalled[3]?.last?.data == Array(repeating: 7, count: 25))
        #expect(h.snapshotsInstalled[3]?.count == 1, "the half-received older snapshot was discarded")
        #expect(h[3].commitIndex == h[1].commitIndex)
    }

    static func chunk(_ from: NodeID, to: NodeID = 2, term: UInt64, _ meta: SnapshotMetadata, total: UInt64,
                      offset: UInt64, _ data: [UInt8], done: Bool) -> Message {
        Message(from: from, to: to, term: term, payload: .snapshotChunk(
            metadata: meta, totalBytes: total, offset: offset, data: data, done: done))
    }

    @Test func followerHandsChunksToTheDriverAndWaitsForVerification() {
        var node = RaftNode(id: 2, configuration: Harness.defaultConfig(), state: .bootstrap(voters: [1, 2]))
        let meta = SnapshotMetadata(index: 9, term: 1, membership: Membership(voters: [1, 2]))
        node.receive(Self.chunk(1, term: 1, meta, total: 20, offset: 10, [1], done: false))
        var rd = node.ready()
        #expect(rd.messagesAfterPersist.map(\.description) == ["2->1 t1 snapshotResponse snap=9 next=0 installed=0"])
        #expect(rd.snapshotChunksReceived.isEmpty)
        let first = Array(repeating: UInt8(1), count: 10)
        let second = Array(repeating: UInt8(2), count: 10)
        node.receive(Self.chunk(1, term: 1, meta, total: 20, offset: 0, first, done: false))
        node.receive(Self.chunk(1, term: 1, meta, total: 20, offset: 0, first, done: false))
        node.receive(Self.chunk(1, term: 1, meta, total: 20, offset: 10, second, done: true))
        rd = node.ready()
        #expect(rd.snapshotChunksReceived == [
            ReceivedSnapshotChunk(from: 1, metadata: meta, totalBytes: 20, offset: 0, data: first, done: false),
            ReceivedSnapshotChunk(from: 1, metadata: meta, totalBytes: 20, offset: 10, data: second, done: true),
        ])
        #expect(rd.needsPersist)
        #expect(rd.messagesAfterPersist.map(\.description) == [
            "2->1 t1 snapshotResponse snap=9 next=10 installed=0",
            "2->1 t1 snapshotResponse snap=9 next=10 installed=0",
        ], "the last chunk is answered once the file is verified")
        #expect(rd.snapshot == nil)
        // A resent last chunk while verifying changes nothing.
        node.receive(Self.chunk(1, term: 1, meta, total: 20, offset: 10, second, done: true))
        #expect(!node.hasReady)
        node.snapshotReceived(metadata: meta, valid: true)
        rd = node.ready()
        #expect(rd.messagesAfterPersist.map(\.description) == ["2->1 t1 snapshotResponse snap=9 next=20 installed=9"])
        #expect(rd.snapshot == meta)
        #expect(rd.persistedMark == LogPosition(index: 9, term: 1))
        #expect(node.commitIndex == 9 && node.lastIndex == 9 && node.appliedIndex == 9)
        #expect(node.availableSnapshot == Snapshot(metadata: meta, size: 20))
        // A late or repeated verification is ignored.
        node.snapshotReceived(metadata: meta, valid: true)
        #expect(node.ready().messagesAfterPersist.isEmpty)
    }

    @Test func invalidFileIsDroppedAndTheLeaderStartsOver() {
        var node = RaftNode(id: 2, configuration: Harness.defaultConfig(), state: .bootstrap(voters: [1, 2]))
        let meta = SnapshotMetadata(index: 9, term: 1, membership: Membership(voters: [1, 2]))
        node.receive(Self.chunk(1, term: 1, meta, total: 4, offset: 0, [1, 2, 3, 4], done: true))
        _ = node.ready()
        node.snapshotReceived(metadata: meta, valid: false)
        var rd = node.ready()
        #expect(rd.messagesAfterPersist.map(\.description) == ["2->1 t1 snapshotResponse snap=9 next=0 installed=0"])
        #expect(rd.snapshot == nil && node.commitIndex == 0)
        // The transfer starts over from byte 0; a chunk past it is refused.
        node.receive(Self.chunk(1, term: 1, meta, total: 4, offset: 2, [3, 4], done: true))
        rd = node.ready()
        #expect(rd.snapshotChunksReceived.isEmpty)
        #expect(rd.messagesAfterPersist.map(\.description) == ["2->1 t1 snapshotResponse snap=9 next=0 installed=0"])
    }

    @Test func inconsistentChunkSizesRestartTheTransfer() {
        var node = RaftNode(id: 2, configuration: Harness.defaultConfig(), state: .bootstrap(voters: [1, 2]))
        let meta = SnapshotMetadata(index: 9, term: 1, membership: Membership(voters: [1, 2]))
        node.receive(Self.chunk(1, term: 1, meta, total: 4, offset: 0, [1, 2, 3, 4, 5], done: false))
        node.receive(Self.chunk(1, term: 1, meta, total: 4, offset: 0, [1, 2], done: true))
        let rd = node.ready()
        #expect(rd.snapshotChunksReceived.isEmpty)
        #expect(rd.messagesAfterPersist.map(\.description) == [
            "2->1 t1 snapshotResponse snap=9 next=0 installed=0",
            "2->1 t1 snapshotResponse snap=9 next=0 installed=0",
        ])
    }

    @Test func transferFromANewLeaderStartsOver() {
        var node = RaftNode(id: 3, configuration: Harness.defaultConfig(), state: .bootstrap(voters: [1, 2, 3]))
        let meta = SnapshotMetadata(index: 9, term: 1, membership: Membership(voters: [1, 2, 3]))
        let chunk = { (from: NodeID, term: UInt64, offset: UInt64, done: Bool) in
            Self.chunk(from, to: 3, term: term, meta, total: 4, offset: offset, [UInt8(from), UInt8(from)], done: done)
        }
        node.receive(chunk(1, 1, 0, false))
        // Leader 1 is gone mid-transfer; leader 2 of term 2 sends the same snapshot index.
        node.receive(chunk(2, 2, 2, true))
        node.receive(chunk(2, 2, 0, false))
        node.receive(chunk(2, 2, 2, true))
        var rd = node.ready()
        #expect(rd.messagesAfterPersist.map(\.description) == [
            "3->1 t1 snapshotResponse snap=9 next=2 installed=0",
            "3->2 t2 snapshotResponse snap=9 next=0 installed=0",
            "3->2 t2 snapshotResponse snap=9 next=2 installed=0",
        ])
        #expect(rd.snapshotChunksReceived.map { "\($0.from)@\($0.offset)" } == ["1@0", "2@0", "2@2"],
                "the driver restarts its staging file at offset 0")
        node.snapshotReceived(metadata: meta, valid: true)
        rd = node.ready()
        #expect(rd.messagesAfterPersist.map(\.description) == ["3->2 t2 snapshotResponse snap=9 next=4 installed=9"])
        #expect(rd.snapshot == meta)
    }

    @Test func resumedTransferContinuesAtTheStagedOffsetAfterARestart() {
        let meta = SnapshotMetadata(index: 9, term: 1, membership: Membership(voters: [1, 2, 3]))
        var state = PersistentState.bootstrap(voters: [1, 2, 3])
        state.hardState = HardState(term: 1)
        // The staging file holds 6 bytes from node 1 when node 3 restarts.
        var node = RaftNode(id: 3, configuration: Harness.defaultConfig(), state: state)
        let resumed = node.resumeIncomingSnapshot(metadata: meta, from: 1, receivedBytes: 6)
        #expect(resumed)
        // Node 1, re-elected in term 2, starts the transfer over; the follower answers with its offset.
        node.receive(Self.chunk(1, to: 3, term: 2, meta, total: 10, offset: 0, [0, 0, 0], done: false))
        var rd = node.ready()
        #expect(rd.snapshotChunksReceived.isEmpty)
        #expect(rd.messagesAfterPersist.map(\.description) == ["3->1 t2 snapshotResponse snap=9 next=6 installed=0"])
        node.receive(Self.chunk(1, to: 3, term: 2, meta, total: 10, offset: 6, [6, 7, 8, 9], done: true))
        rd = node.ready()
        #expect(rd.snapshotChunksReceived.map(\.offset) == [6])
        node.snapshotReceived(metadata: meta, valid: true)
        rd = node.ready()
        #expect(rd.snapshot == meta)
        #expect(rd.messagesAfterPersist.map(\.description) == ["3->1 t2 snapshotResponse snap=9 next=10 installed=9"])
        #expect(node.availableSnapshot?.size == 10)
    }

    @Test func resumedTransferFromAnotherSenderOrSnapshotStartsOver() {
        let meta = SnapshotMetadata(index: 9, term: 1, membership: Membership(voters: [1, 2, 3]))
        let newer = SnapshotMetadata(index: 12, term: 1, membership: Membership(voters: [1, 2, 3]))
        var node = RaftNode(id: 3, configuration: Harness.defaultConfig(), state: .bootstrap(voters: [1, 2, 3]))
        node.resumeIncomingSnapshot(metadata: meta, from: 1, receivedBytes: 6)
        // Another sender: its chunk past 0 is refused, its chunk at 0 starts a new staging file.
        node.receive(Self.chunk(2, to: 3, term: 2, meta, total: 10, offset: 6, [6, 7, 8, 9], done: true))
        node.receive(Self.chunk(2, to: 3, term: 2, meta, total: 10, offset: 0, [0, 1], done: false))
        var rd = node.ready()
        #expect(rd.messagesAfterPersist.map(\.description) == [
            "3->2 t2 snapshotResponse snap=9 next=0 installed=0",
            "3->2 t2 snapshotResponse snap=9 next=2 installed=0",
        ])
        #expect(rd.snapshotChunksReceived.map { "\($0.from)@\($0.offset)" } == ["2@0"])
        // The same sender with a different snapshot also starts over.
        var other = RaftNode(id: 3, configuration: Harness.defaultConfig(), state: .bootstrap(voters: [1, 2, 3]))
        other.resumeIncomingSnapshot(metadata: meta, from: 1, receivedBytes: 6)
        other.receive(Self.chunk(1, to: 3, term: 1, newer, total: 10, offset: 6, [6, 7, 8, 9], done: true))
        rd = other.ready()
        #expect(rd.messagesAfterPersist.map(\.description) == ["3->1 t1 snapshotResponse snap=12 next=0 installed=0"])
        // A snapshot already covered by the commit index is not resumed.
        var covered = PersistentState.bootstrap(voters: [1, 2, 3])
        covered.entries = (1...9).map { Entry(term: 1, index: $0) }
        covered.hardState = HardState(term: 1, commit: 9)
        var third = RaftNode(id: 3, configuration: Harness.defaultConfig(), state: covered)
        let resumedCovered = third.resumeIncomingSnapshot(metadata: meta, from: 1, receivedBytes: 6)
        #expect(!resumedCovered)
    }

    @Test func restartFromACompactionPointAndLaterEntries() {
        var h = Harness(voters: [1, 2, 3])
        h.elect(1)
        for i in 0..<6 { h.propose(1, [UInt8(i)]) }
        h.stabilize()
        try! h.takeSnapshot(2, index: 4, data: [4])
        h.restart(2)
        #expect(h[2].firstIndex == 5)
        #expect(h[2].appliedIndex == 4)
        #expect(h[2].availableSnapshot == Snapshot(metadata: h.files[2]!.metadata, size: 1))
        h.tickAll(2)
        #expect(h.applied[2]!.map(\.index) == [5, 6, 7])
    }
}
