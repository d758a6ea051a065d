import Foundation
import Logging
import Raft
@testable import Replication
@testable import Storage
import StreamModel
import Synchronization
import Testing

/// A store in a fresh temporary directory, removed at the end of the test.
struct TempStore {
    let directory: String
    init() {
        directory = NSTemporaryDirectory() + "runnel-storage-\(UUID().uuidString.prefix(8))"
    }
    /// Opens the store and waits until it has applied everything committed (a restarted node
    /// replays its log on the apply thread).
    func open(_ configure: (inout NodeConfiguration) -> Void = { _ in }) async throws -> Node {
        var configuration = NodeConfiguration(dataDirectory: directory)
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let store = try Node(configuration: configuration, logger: logger)
        try await store.readBarrier()
        return store
    }
    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

let src = StreamPath(bucket: "_default", name: "src")

func bytes(_ s: String) -> Body { .bytes(Array(s.utf8)) }

func readAll(_ store: Node, _ path: StreamPath, from: Offset = .zero, chunk: Int = 1 << 20) throws -> String {
    let meta = try #require(store.stream(at: path, now: 0))
    return String(decoding: try store.read(meta, from: from, maxBytes: chunk).bytes.readableBytesView, as: UTF8.self)
}

@Suite struct NodeTests {
    @Test func appendsAreDurableAcrossReopen() async throws {
        let temp = TempStore()
        defer { temp.remove() }
        var store = try await temp.open()
        _ = try await store.propose(.create(CreateStream(path: src, contentType: "text/plain", body: bytes("ab"))))
        _ = try await store.propose(.append(AppendStream(path: src, contentType: "text/plain", body: bytes("cd"))))
        store.shutdown()
        store = try await temp.open()
        #expect(try readAll(store, src) == "abcd")
        // 1: the first leader's no-op, 2: create, 3: append, 4: the no-op after the restart.
        #expect(store.appliedIndex == 4)
        store.shutdown()
    }

    @Test func replaysLoggedButUnappliedEntries() async throws {
        let temp = TempStore()
        defer { temp.remove() }
        var store = try await temp.open()
        _ = try await store.propose(.create(CreateStream(path: src, contentType: "text/plain", body: bytes("ab"))))
        // An entry that reached the log but not the applied state, as after a crash between
        // the synced log write and the apply write.
        let tag = ProposalTag(origin: 1, seq: 999)
        let batch = CommandBatch(time: 1, commands: [(tag, .append(AppendStream(path: src, contentType: "text/plain", body: bytes("cd"))))])
        try store.log.save(entries: [Entry(term: 1, index: 3, kind: .normal, data: batch.encoded())], sync: true)
        store.shutdown()
        store = try await temp.open()
        #expect(try readAll(store, src) == "abcd")
        // 1: no-op, 2: create, 3: the injected append, 4: the no-op after the restart.
        #expect(store.appliedIndex == 4)
        // New proposals continue after the replayed entry.
        _ = try await store.propose(.append(AppendStream(path: src, contentType: "text/plain", body: bytes("ef"))))
        #expect(try store.log.lastIndex() == 5)
        #expect(try readAll(store, src) == "abcdef")
        store.shutdown()
    }

    @Test func concurrentProposalsShareFsyncs() async throws {
        let temp = TempStore()
        defer { temp.remove() }
        let store = try await temp.open()
        _ = try await store.propose(.create(CreateStream(path: src, contentType: "text/plain")))
        let before = store.statistics
        let writers = 64
        let results = try await withThrowingTaskGroup(of: CommandResult.self) { group in
            for i in 0..<writers {
                group.addTask {
                    try await store.propose(.append(AppendStream(path: src, contentType: "text/plain", body: bytes("\(i % 10)"))))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let after = store.statistics
        #expect(results.allSatisfy { if case .appended = $0 { true } else { false } })
        #expect(after.commands - before.commands == UInt64(writers))
        #expect(after.syncs - before.syncs < UInt64(writers), "no group commit: \(after.syncs - before.syncs) syncs")
        #expect(try readAll(store, src).count == writers)
        store.shutdown()
    }

    @Test func readsFollowForkChainsAndSubOffsets() async throws {
        let temp = TempStore()
        defer { temp.remove() }
        let store = try await temp.open()
        _ = try await store.propose(.create(CreateStream(path: src, contentType: "text/plain", body: bytes("ab"))))
        _ = try await store.propose(.append(AppendStream(path: src, contentType: "text/plain", body: bytes("cdef"))))
        let fork = StreamPath(bucket: "_default", name: "fork")
        _ = try await store.propose(.create(CreateStream(path: fork, fork: ForkRequest(source: src, offset: Offset(position: 2)))))
        _ = try await store.propose(.append(AppendStream(path: fork, contentType: "text/plain", body: bytes("XY"))))
        #expect(try readAll(store, fork) == "abXY")
        #expect(try readAll(store, src) == "abcdef")
        // A sub-offset fork of the fork: "ab" + first 1 byte of "XY".
        let meta = try #require(store.stream(at: fork, now: 0))
        let unit = try #require(try store.unit(of: meta, at: Offset(position: 2)))
        let prefix = try #require(StoredUnit.prefix(of: unit, count: 1, json: false))
        let sub = StreamPath(bucket: "_default", name: "sub")
        _ = try await store.propose(.create(CreateStream(
            path: sub, fork: ForkRequest(source: fork, offset: Offset(position: 2), subOffset: 1,
                                         materializedPrefix: prefix, sourceID: meta.id))))
        #expect(try readAll(store, sub) == "abX")
        // Reads from the middle of a unit and in small chunks.
        #expect(try readAll(store, src, from: Offset(position: 3)) == "def")
        let srcMeta = try #require(store.stream(at: src, now: 0))
        let chunk = try store.read(srcMeta, from: .zero, maxBytes: 3)
        #expect(String(decoding: chunk.bytes.readableBytesView, as: UTF8.self) == "abc")
        #expect(chunk.nextOffset == Offset(position: 3))
        #expect(!chunk.upToDate)
        store.shutdown()
    }

    @Test func jsonReadsNeverSplitAMessage() async throws {
        let temp = TempStore()
        defer { temp.remove() }
        let store = try await temp.open()
        let path = StreamPath(bucket: "_default", name: "json")
        let messages = (0..<10).map { Array("{\"i\":\($0)}".utf8) }
        _ = try await store.propose(.create(CreateStream(path: path, contentType: "application/json", body: .json(FramedMessages(messages)))))
        let meta = try #require(store.stream(at: path, now: 0))
        var from = Offset.zero
        var seen: [[UInt8]] = []
        var rounds = 0
        while true {
            let chunk = try store.read(meta, from: from, maxBytes: 15)
            seen += chunk.messages.messages
            from = chunk.nextOffset
            rounds += 1
            if chunk.upToDate { break }
            #expect(rounds < 20)
        }
        #expect(seen == messages)
        #expect(rounds > 1)
        store.shutdown()
    }

    /// A snapshot the apply thread captures while the node shuts down must still release its
    /// RocksDB view, or the database cannot close and stays locked for the next open (a CI
    /// run failed so: "lock hold by current process"). The apply thread is held until the
    /// Raft thread has stopped, then captures the view the snapshot asked for.
    @Test func aSnapshotCapturedDuringShutdownReleasesItsView() async throws {
        let temp = TempStore()
        defer { temp.remove() }
        let store = try await temp.open()
        _ = try await store.propose(.create(CreateStream(path: src, contentType: "text/plain", body: bytes("ab"))))
        let applyHeld = DispatchSemaphore(value: 0)
        let releaseApply = DispatchSemaphore(value: 0)
        store.applier.capture { view in
            view.release()
            applyHeld.signal()
            releaseApply.wait()
        }
        applyHeld.wait()
        // The snapshot's capture queues behind the held one; the operator waiting for it must
        // be answered too.
        let requested = DispatchSemaphore(value: 0)
        let answered = Mutex<Result<UInt64, ReplicationError>?>(nil)
        store.driver.requestSnapshot { result in answered.withLock { $0 = result } }
        store.driver.runOnRaftThread { _ in requested.signal() }
        requested.wait()
        let closed = DispatchSemaphore(value: 0)
        let started = ContinuousClock.now
        Thread {
            store.shutdown()
            closed.signal()
        }.start()
        let raftStopped = ContinuousClock.now + .seconds(10)
        while store.driver.isRunning, ContinuousClock.now < raftStopped {
            try await Task.sleep(for: .milliseconds(5))
        }
        releaseApply.signal()
        #expect(closed.wait(timeout: .now() + 20) == .success)
        #expect(ContinuousClock.now - started < .seconds(10), "shutdown waited for a view nobody releases")
        #expect(answered.withLock { $0 }.map { (try? $0.get()) == nil } == true)
        let reopened = try await temp.open()
        #expect(try readAll(reopened, src) == "ab")
        reopened.shutdown()
    }

    @Test func logIsCompactedBehindASnapshot() async throws {
        let temp = TempStore()
        defer { temp.remove() }
        let store = try await temp.open {
            $0.retainedLogEntries = 4
            $0.snapshotEveryEntries = 10
        }
        _ = try await store.propose(.create(CreateStream(path: src, contentType: "text/plain")))
        for i in 0..<40 {
            _ = try await store.propose(.append(AppendStream(path: src, contentType: "text/plain", body: bytes("\(i % 10)"))))
        }
        // Snapshots (every 10 entries) and compaction behind them run on the Raft thread's tick.
        let deadline = ContinuousClock.now + .seconds(5)
        while try store.log.firstIndex() <= 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try store.log.firstIndex() > 1)
        #expect(try store.log.lastIndex() == store.appliedIndex)
        store.shutdown()
        let reopened = try await temp.open()
        #expect(try readAll(reopened, src).count == 40)
        // An operator's snapshot covers everything applied.
        #expect(try await reopened.takeSnapshot() == reopened.appliedIndex)
        reopened.shutdown()
    }
}
