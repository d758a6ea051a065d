import BinaryCodec
import Foundation
import Raft
import RocksDB
@testable import Storage
@testable import StreamModel
import Synchronization
import Testing

/// The snapshot file (docs/state-transfer.md §1 and §3): written from a consistent view,
/// read in chunks, received with resume, checked end to end, and installed idempotently
/// through the redo marker, on real RocksDB databases in temporary directories.
@Suite struct SnapshotFileTests {
    static let now: Int64 = 1_700_000_000_000
    static let metadata = SnapshotMetadata(index: 0, term: 3, membership: Membership(voters: [1, 2, 3], learners: [4]))
    static let peers: [NodeID: String] = [1: "a:7001", 2: "b:7001", 3: "c:7001", 4: "d:7001"]

    /// A scratch directory, removed after `body`.
    private func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = NSTemporaryDirectory() + "runnel-snap-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    /// A node's database with state built through the apply path: streams of bytes and of
    /// JSON, producers, a deleted stream (whose rows are gone), one command per index.
    private struct Node {
        let storage: NodeStorage
        var model: StreamModel
        var applied: UInt64

        init(path: String) throws {
            storage = try NodeStorage(path: path)
            (model, applied) = try storage.state.load()
        }

        mutating func apply(_ commands: [Command]) throws {
            for command in commands {
                var effects = ApplyEffects()
                _ = model.apply(command, now: SnapshotFileTests.now, effects: &effects)
                applied += 1
                try storage.state.persist(effects, model: model, appliedIndex: applied)
            }
        }

        mutating func fill(streams: Int, units: Int, unitSize: Int, tag: String = "s", seed: UInt64 = 1) throws {
            var rng = seed
            func byte() -> UInt8 {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: rng >> 33)
            }
            for s in 0..<streams {
                let path = StreamPath(bucket: "_default", name: "\(tag)\(s)")
                let json = s % 3 == 2
                let contentType = json ? "application/json" : "application/octet-stream"
                try apply([.create(CreateStream(path: path, contentType: contentType))])
                for u in 0..<units {
                    let body: Body = json
                        ? .json(FramedMessages([Array("{\"u\":\(u)}".utf8)]))
                        : .bytes((0..<unitSize).map { _ in byte() })
                    let producer = u % 4 == 0 ? ProducerTuple(id: "p\(s % 5)", epoch: 1, seq: UInt64(u / 4)) : nil
                    try apply([.append(AppendStream(path: path, contentType: contentType, body: body, producer: producer))])
                }
            }
            if streams > 3 {
                try apply([.delete(StreamPath(bucket: "_default", name: "\(tag)1"))])
            }
        }

        /// Every row of `meta` and `payloads`.
        func rows() throws -> [String: [([UInt8], [UInt8])]] {
            let db = storage.db
            var result: [String: [([UInt8], [UInt8])]] = [:]
            for name in [CF.meta, CF.payloads] {
                result[name] = try db.scan(try db.columnFamily(named: name)).map { ($0.key, $0.value) }
            }
            return result
        }
    }

    private func sameRows(_ a: [String: [([UInt8], [UInt8])]], _ b: [String: [([UInt8], [UInt8])]]) -> Bool {
        [CF.meta, CF.payloads].allSatisfy { name in
            let x = a[name] ?? [], y = b[name] ?? []
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        }
    }

    private func metadata(at index: UInt64) -> SnapshotMetadata {
        var m = Self.metadata
        m.index = index
        return m
    }

    private func flipByte(at offset: Int, in path: String) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[offset] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    // MARK: Round trip

    @Test func roundTripReproducesEveryRowAndTheModel() throws {
        try withDirectory { dir in
            var source = try Node(path: dir + "/a")
            try source.fill(streams: 12, units: 20, unitSize: 300)
            let view = try source.storage.state.captureView()
            #expect(view.appliedIndex == source.applied)
            let written = try SnapshotFile.write(
                view, metadata: metadata(at: source.applied), peers: Self.peers, to: dir + "/snapshots")
            #expect(written.name == "\(source.applied)-3.snap")
            #expect(written.path == dir + "/snapshots/" + written.name)
            #expect(try FileDescriptor.size(of: written.path) == written.size)
            #expect(try SnapshotDirectory(path: dir + "/snapshots").entries().map(\.name) == [written.name])

            let verified = try SnapshotFile.verify(path: written.path)
            #expect(verified.header.metadata == metadata(at: source.applied))
            #expect(verified.header.peers == Self.peers)
            #expect(verified.recordCount == written.recordCount)
            #expect(verified.checksum == written.checksum)
            let sourceRows = try source.rows()
            #expect(written.recordCount == UInt64(sourceRows.values.map(\.count).reduce(0, +)))

            // The target has state of its own, which the install replaces entirely.
            var target = try Node(path: dir + "/b")
            try target.fill(streams: 5, units: 7, unitSize: 50, tag: "other", seed: 9)
            let (model, applied) = try target.storage.state.install(from: written.path)
            #expect(applied == source.applied)
            #expect(model.streams == source.model.streams)
            #expect(model.buckets == source.model.buckets)
            #expect(model.nextStreamID == source.model.nextStreamID)
            #expect(sameRows(try target.rows(), sourceRows))
            // The database can close: the writer released the view.
            try source.storage.close()
            try target.storage.close()
        }
    }

    @Test func writesAfterTheCaptureAreNotInTheFile() throws {
        try withDirectory { dir in
            var source = try Node(path: dir + "/a")
            try source.fill(streams: 4, units: 10, unitSize: 100)
            let atCapture = try source.rows()
            let capturedModel = source.model
            let view = try source.storage.state.captureView()
            let index = view.appliedIndex
            try source.fill(streams: 6, units: 10, unitSize: 100, tag: "late", seed: 5)
            try source.apply([.delete(StreamPath(bucket: "_default", name: "s0"))])
            let written = try SnapshotFile.write(view, metadata: metadata(at: index), peers: [:], to: dir + "/snap")

            let target = try Node(path: dir + "/b")
            let (model, applied) = try target.storage.state.install(from: written.path)
            #expect(applied == index)
            #expect(model.streams == capturedModel.streams)
            #expect(sameRows(try target.rows(), atCapture))
        }
    }

    @Test func aViewIsReleasedEvenWhenTheWriteIsRefused() throws {
        try withDirectory { dir in
            var source = try Node(path: dir + "/a")
            try source.fill(streams: 1, units: 2, unitSize: 10)
            let view = try source.storage.state.captureView()
            #expect(throws: StorageError.self) {
                _ = try SnapshotFile.write(view, metadata: metadata(at: source.applied + 1), peers: [:], to: dir + "/snap")
            }
            #expect(try SnapshotDirectory(path: dir + "/snap").entries().isEmpty)
            try source.storage.close()  // refuses while a RocksDB snapshot is held
        }
    }

    // MARK: Damage

    @Test func aFlippedByteOrATruncationIsRejected() throws {
        try withDirectory { dir in
            var source = try Node(path: dir + "/a")
            try source.fill(streams: 6, units: 10, unitSize: 200)
            let written = try SnapshotFile.write(
                try source.storage.state.captureView(), metadata: metadata(at: source.applied), peers: Self.peers,
                to: dir + "/snap")
            let original = try Data(contentsOf: URL(fileURLWithPath: written.path))
            let copy = dir + "/copy"
            let size = Int(written.size)
            // A byte in the middle of the records, in the header, and in the trailer's count.
            for offset in [size / 2, 20, size - SnapshotFile.trailerSize + 3, size - 1] {
                try original.write(to: URL(fileURLWithPath: copy))
                try flipByte(at: offset, in: copy)
                let error = #expect(throws: StorageError.self) { try SnapshotFile.verify(path: copy) }
                #expect(error?.code == .corruption, "offset \(offset): \(String(describing: error))")
                let target = try Node(path: dir + "/t\(offset)")
                let installError = #expect(throws: StorageError.self) { try target.storage.state.install(from: copy) }
                #expect(installError?.code == .corruption)
            }
            for length in [0, 5, size / 2, size - 1, size - SnapshotFile.trailerSize] {
                try original.prefix(length).write(to: URL(fileURLWithPath: copy))
                let error = #expect(throws: StorageError.self) { try SnapshotFile.verify(path: copy) }
                #expect(error?.code == .corruption, "length \(length): \(String(describing: error))")
            }
        }
    }

    /// A file whose header names another index than the state inside it.
    @Test func aHeaderThatDisagreesWithTheAppliedIndexIsRejected() throws {
        try withDirectory { dir in
            var source = try Node(path: dir + "/a")
            try source.fill(streams: 2, units: 3, unitSize: 10)
            let view = try source.storage.state.captureView()
            let file = try FileDescriptor.openForWriting(dir + "/forged", truncate: true)
            var writer = BufferedSnapshotWriter(file: file, bufferSize: 1 << 16)
            try writer.append(SnapshotFile.encodeHeader(SnapshotHeader(metadata: metadata(at: 999), peers: [:])))
            for (key, value) in try source.storage.db.scan(view.meta, snapshot: try view.rocksSnapshot()) {
                try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try writer.appendRecord(.meta, key: k, value: v) } }
            }
            try writer.append(SnapshotFile.encodeTrailer(recordCount: writer.recordCount, checksum: writer.checksum.value))
            try writer.flush()
            let error = #expect(throws: StorageError.self) { try SnapshotFile.verify(path: dir + "/forged") }
            #expect(error?.message.contains("holds the state of index") == true)
        }
    }

    // MARK: Transfer

    @Test func aChunkedCopyResumesFromTheMiddle() throws {
        try withDirectory { dir in
            var source = try Node(path: dir + "/a")
            try source.fill(streams: 8, units: 30, unitSize: 700)
            let written = try SnapshotFile.write(
                try source.storage.state.captureView(), metadata: metadata(at: source.applied), peers: Self.peers,
                to: dir + "/leader")
            let reader = try SnapshotFileReader(path: written.path)
            #expect(reader.size == written.size)
            #expect(reader.header.metadata.index == source.applied)
            let chunk = 16 << 10
            let incomingDir = dir + "/follower"
            let (index, term) = (source.applied, UInt64(3))

            // First run: half of the chunks arrive, then the node stops.
            var offset: UInt64 = 0
            do {
                let incoming = try IncomingSnapshotFile(directory: incomingDir, index: index, term: term, from: 1)
                while offset < written.size / 2 {
                    let bytes = try reader.read(at: offset, length: chunk)
                    #expect(try incoming.append(bytes, at: offset) == .appended(size: offset + UInt64(bytes.count)))
                    offset += UInt64(bytes.count)
                }
            }
            let directory = SnapshotDirectory(path: incomingDir)
            #expect(try directory.incomingSize(index: index, term: term, from: 1) == offset)
            #expect(try directory.incomingSize(index: index, term: term, from: 2) == nil)

            // Second run: the sender restarts from 0; the receiver answers with its size.
            let incoming = try IncomingSnapshotFile(directory: incomingDir, index: index, term: term, from: 1)
            #expect(incoming.size == offset)
            #expect(try incoming.append(try reader.read(at: 0, length: chunk), at: 0) == .wrongOffset(size: offset))
            while offset < written.size {
                let bytes = try reader.read(at: offset, length: chunk)
                _ = try incoming.append(bytes, at: offset)
                offset += UInt64(bytes.count)
            }
            #expect(try reader.read(at: offset, length: chunk).isEmpty)
            guard case .valid(let verified) = try incoming.finish() else {
                Issue.record("a complete copy is valid")
                return
            }
            #expect(verified.path == incomingDir + "/" + written.name)
            #expect(try directory.entries().map(\.name) == [written.name])
            #expect(try Data(contentsOf: URL(fileURLWithPath: verified.path))
                == Data(contentsOf: URL(fileURLWithPath: written.path)))

            let target = try Node(path: dir + "/b")
            let (model, _) = try target.storage.state.install(from: verified.path)
            #expect(model.streams == source.model.streams)
        }
    }

    @Test func aDamagedTransferIsInvalidAndDeleted() throws {
        try withDirectory { dir in
            var source = try Node(path: dir + "/a")
            try source.fill(streams: 3, units: 5, unitSize: 100)
            let written = try SnapshotFile.write(
                try source.storage.state.captureView(), metadata: metadata(at: source.applied), peers: [:], to: dir + "/l")
            var bytes = try SnapshotFileReader(path: written.path).read(at: 0, length: Int(written.size))
            bytes[bytes.count / 2] ^= 0x80
            let incoming = try IncomingSnapshotFile(directory: dir + "/f", index: source.applied, term: 3, from: 1)
            _ = try incoming.append(bytes, at: 0)
            guard case .invalid = try incoming.finish() else {
                Issue.record("a damaged copy is invalid")
                return
            }
            #expect(try SnapshotDirectory(path: dir + "/f").entries().isEmpty)

            // An intact file under the wrong (index, term) is not the snapshot expected.
            let other = try IncomingSnapshotFile(directory: dir + "/f", index: source.applied + 1, term: 3, from: 1)
            _ = try other.append(try SnapshotFileReader(path: written.path).read(at: 0, length: Int(written.size)), at: 0)
            guard case .invalid = try other.finish() else {
                Issue.record("another snapshot's file is invalid")
                return
            }
        }
    }

    @Test func concurrentChunkReadsAgreeWithTheFile() throws {
        try withDirectory { dir in
            var source = try Node(path: dir + "/a")
            try source.fill(streams: 4, units: 20, unitSize: 1000)
            let written = try SnapshotFile.write(
                try source.storage.state.captureView(), metadata: metadata(at: source.applied), peers: [:], to: dir + "/l")
            let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: written.path)))
            let reader = try SnapshotFileReader(path: written.path)
            let chunk = 4096
            let chunks = (whole.count + chunk - 1) / chunk
            let mismatches = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: chunks) { i in
                let bytes = try? reader.read(at: UInt64(i * chunk), length: chunk)
                if bytes.map({ $0[...] }) != whole[(i * chunk)..<min(whole.count, (i + 1) * chunk)] {
                    mismatches.add(1, ordering: .relaxed)
                }
            }
            #expect(mismatches.load(ordering: .relaxed) == 0)
        }
    }

    // MARK: Install

    /// A crash in the middle of an install, modelled by an install that stops with part of
    /// the records written (a damaged copy fails at its end), then the redo from the intact
    /// file; and an install repeated on a state that already has it.
    @Test func installIsIdempotent() throws {
        try withDirectory { dir in
            var source = try Node(path: dir + "/a")
            try source.fill(streams: 10, units: 20, unitSize: 2000)
            let written = try SnapshotFile.write(
                try source.storage.state.captureView(), metadata: metadata(at: source.applied), peers: [:], to: dir + "/s")
            let damaged = dir + "/damaged"
            try FileManager.default.copyItem(atPath: written.path, toPath: damaged)
            try flipByte(at: Int(written.size) - SnapshotFile.trailerSize - 1, in: damaged)

            var target = try Node(path: dir + "/b")
            try target.fill(streams: 3, units: 3, unitSize: 10, tag: "old")
            #expect(throws: StorageError.self) { try target.storage.state.install(from: damaged, batchBytes: 1 << 16) }
            // Part of the state is written; the applied index only comes with the last batch.
            #expect(try target.storage.state.load().appliedIndex == 0)

            let sourceRows = try source.rows()
            for _ in 0..<2 {
                let (model, applied) = try target.storage.state.install(from: written.path, batchBytes: 1 << 16)
                #expect(applied == source.applied)
                #expect(model.streams == source.model.streams)
                #expect(sameRows(try target.rows(), sourceRows))
            }
        }
    }

    @Test func theRedoMarkerRoundTrips() throws {
        try withDirectory { dir in
            var storage: NodeStorage? = try NodeStorage(path: dir + "/db")
            let log = storage!.log
            try log.setPeerAddresses([1: "old:1"])
            let entries = (1...60).map { Entry(term: 2, index: $0, kind: .normal, data: [UInt8($0)]) }
            try log.save(entries: entries, hardState: HardState(term: 2, vote: 1, commit: 5), sync: true)
            #expect(try log.installMarker() == nil)

            let meta = metadata(at: 50)
            try log.beginInstall(meta, fileName: "50-3.snap", peers: Self.peers)
            #expect(try log.installMarker() == InstallMarker(index: 50, term: 3, fileName: "50-3.snap"))
            #expect(try log.lastIndex() == 0)
            #expect(try log.peerAddresses() == Self.peers)
            let state = try #require(try log.persistentState())
            #expect(state.snapshot == meta)
            #expect(state.entries.isEmpty)
            #expect(state.hardState == HardState(term: 2, vote: 1, commit: 5))

            // Entries after the snapshot: the bound still covers 51...60, so no stale entry
            // survives behind the new ones.
            try log.save(entries: [Entry(term: 3, index: 51, kind: .normal, data: [1])], sync: true)
            #expect(try log.firstIndex() == 51)
            #expect(try log.lastIndex() == 51)

            // The marker survives a restart, until it is cleared.
            try storage!.close()
            storage = nil
            let reopened = try NodeStorage(path: dir + "/db")
            #expect(try reopened.log.installMarker()?.fileName == "50-3.snap")
            try reopened.log.finishInstall()
            #expect(try reopened.log.installMarker() == nil)
            #expect(try reopened.log.persistentState()?.entries.map(\.index) == [51])
        }
    }

    /// The driver's two calls: a full install, and the redo of one interrupted after the
    /// marker was written (the state still the old one).
    @Test func nodeStorageInstallsAndRedoesAnInterruptedInstall() throws {
        try withDirectory { dir in
            var source = try Node(path: dir + "/a")
            try source.fill(streams: 5, units: 8, unitSize: 300)
            let written = try SnapshotFile.write(
                try source.storage.state.captureView(), metadata: metadata(at: source.applied), peers: Self.peers,
                to: dir + "/snap")
            let verified = try SnapshotFile.verify(path: written.path)

            var target = try Node(path: dir + "/b")
            try target.fill(streams: 2, units: 2, unitSize: 10, tag: "old")
            #expect(try target.storage.redoInterruptedInstall(snapshotDirectory: dir + "/snap") == nil)
            let (model, applied) = try target.storage.installSnapshot(verified)
            #expect(applied == source.applied)
            #expect(model.streams == source.model.streams)
            #expect(try target.storage.log.installMarker() == nil)
            #expect(try target.storage.log.peerAddresses() == Self.peers)
            #expect(try target.storage.log.persistentState()?.snapshot == metadata(at: source.applied))

            // Crash after the marker: the state is still the old one until the redo.
            var other = try Node(path: dir + "/c")
            try other.fill(streams: 2, units: 2, unitSize: 10, tag: "old")
            try other.storage.log.beginInstall(metadata(at: source.applied), fileName: written.name, peers: Self.peers)
            let redone = try #require(try other.storage.redoInterruptedInstall(snapshotDirectory: dir + "/snap"))
            #expect(redone.appliedIndex == source.applied)
            #expect(sameRows(try other.rows(), try source.rows()))
            #expect(try other.storage.log.installMarker() == nil)

            // A marker whose file is gone stays, and the redo throws.
            let lost = try Node(path: dir + "/d")
            try lost.storage.log.beginInstall(metadata(at: 7), fileName: "7-3.snap")
            #expect(throws: StorageError.self) { try lost.storage.redoInterruptedInstall(snapshotDirectory: dir + "/snap") }
            #expect(try lost.storage.log.installMarker()?.index == 7)
        }
    }

    @Test func thePeerAddressBookIsEncodedAsLogStoreStoresIt() throws {
        try withDirectory { dir in
            let storage = try NodeStorage(path: dir + "/db")
            try storage.log.setPeerAddresses(Self.peers)
            let raw = try storage.db.get(Keys.peerAddresses, in: try storage.db.columnFamily(named: CF.raftState))
            #expect(raw == PeerAddressBook.encoded(Self.peers))
        }
    }

    // MARK: Bounded memory

    /// A state many times the writer's buffer, with units larger than the buffer: the writer
    /// never holds more than its buffer, and the file still round-trips.
    @Test func theWriterBufferIsBounded() throws {
        try withDirectory { dir in
            var source = try Node(path: dir + "/a")
            let big = StreamPath(bucket: "_default", name: "big")
            try source.apply([.create(CreateStream(path: big, contentType: "application/octet-stream"))])
            let unit = [UInt8](repeating: 0xAB, count: 1 << 20)
            for i in 0..<48 {
                var bytes = unit
                bytes[0] = UInt8(i)
                try source.apply([.append(AppendStream(path: big, contentType: "application/octet-stream", body: .bytes(bytes)))])
            }
            try source.fill(streams: 4, units: 200, unitSize: 4096)
            let bufferSize = 256 << 10
            let written = try SnapshotFile.write(
                try source.storage.state.captureView(), metadata: metadata(at: source.applied), peers: [:],
                to: dir + "/s", bufferSize: bufferSize)
            #expect(written.size > 48 << 20)
            #expect(written.peakBufferedBytes <= bufferSize)
            #expect(written.peakBufferedBytes > 0)
            let target = try Node(path: dir + "/b")
            let (model, _) = try target.storage.state.install(from: written.path, batchBytes: 1 << 20)
            #expect(model.streams == source.model.streams)
            #expect(try target.storage.state.unit(of: model.streams[big]!.id, at: 5 << 20)?.first == 5)
        }
    }

    // MARK: Directory

    @Test func staleFilesAreRemovedAndTheLatestKept() throws {
        try withDirectory { dir in
            for name in ["10-1.snap", "20-2.snap", "30-2.snap", "tmp-40-2", "incoming-25-2-1", "incoming-35-2-3",
                         "incoming-30-2-1", "notes.txt", "7-x.snap", "tmp-1"] {
                FileManager.default.createFile(atPath: dir + "/" + name, contents: Data([1, 2, 3]))
            }
            let directory = SnapshotDirectory(path: dir)
            #expect(try directory.latest()?.name == "30-2.snap")
            #expect(try directory.entries().first { $0.name == "incoming-35-2-3" }?.kind == .incoming(from: 3))
            let removed = try directory.removeStale(keeping: ["20-2.snap"])
            #expect(Set(removed) == ["10-1.snap", "tmp-40-2", "incoming-25-2-1", "incoming-30-2-1"])
            let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
            #expect(left == ["20-2.snap", "30-2.snap", "incoming-35-2-3", "notes.txt", "7-x.snap", "tmp-1"])
            #expect(try SnapshotDirectory(path: dir + "/missing").entries().isEmpty)
        }
    }
}
