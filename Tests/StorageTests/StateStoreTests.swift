import BinaryCodec
import Foundation
import RocksDB
@testable import Storage
@testable import StreamModel
import Testing

/// The applied state on disk agrees with the model byte for byte: one key per name (names
/// are bytes), producers in rows of their own, and data dirs of earlier versions still open
/// (issue 13, findings 2 and 7).
@Suite struct StateStoreTests {
    static let nfc = StreamPath(bucket: "_default", name: "caf\u{E9}")
    static let nfd = StreamPath(bucket: "_default", name: "cafe\u{301}")
    static let now: Int64 = 1_700_000_000_000

    private func withState(_ body: (_ reopen: () throws -> (RocksDB, StateStore)) throws -> Void) throws {
        let directory = NSTemporaryDirectory() + "runnel-state-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body {
            let db = try RocksDB(path: directory, columnFamilies: CF.all)
            return (db, try StateStore(db: db))
        }
    }

    /// Applies `commands` one batch each, persisting after each, like the apply loop.
    private func apply(_ commands: [Command], to model: inout StreamModel, state: StateStore, from index: UInt64 = 1) throws {
        for (offset, command) in commands.enumerated() {
            var effects = ApplyEffects()
            _ = model.apply(command, now: Self.now, effects: &effects)
            try state.persist(effects, model: model, appliedIndex: index + UInt64(offset))
        }
    }

    private func streamRowKeys(_ db: RocksDB) throws -> [[UInt8]] {
        try db.scan(try db.columnFamily(named: CF.meta), range: .prefix(Keys.streamPrefix)).map(\.0)
    }

    @Test func twoSpellingsAreTwoRowsAndSurviveReload() throws {
        try withState { open in
            var (db, state) = try open()
            var model = try state.load().model
            try apply([
                .create(CreateStream(path: Self.nfc, contentType: "text/plain", body: .bytes([1]))),
                .create(CreateStream(path: Self.nfd, contentType: "text/plain", body: .bytes([2, 2]))),
                .delete(Self.nfc),
                .create(CreateStream(path: Self.nfc, contentType: "text/plain")),
            ], to: &model, state: state)
            #expect(try streamRowKeys(db).count == 2)
            #expect(try state.listStreams(bucket: "_default", prefix: "caf", after: nil, limit: 10).count == 2)
            try db.close()
            (db, state) = try open()
            let (loaded, applied) = try state.load()
            #expect(applied == 4)
            #expect(loaded.streams == model.streams)
            #expect(loaded.streams[Self.nfd]?.tail == Offset(position: 2))
            #expect(loaded.streams[Self.nfc]?.tail == .zero)
            #expect(loaded.buckets["_default"]?.streamCount == 2)
        }
    }

    @Test func producersLiveInTheirOwnRows() throws {
        try withState { open in
            var (db, state) = try open()
            var model = try state.load().model
            let path = StreamPath(bucket: "_default", name: "s")
            try apply([.create(CreateStream(path: path, contentType: "text/plain"))], to: &model, state: state)
            let ids = ["p", "caf\u{E9}", "cafe\u{301}", String(repeating: "x", count: 200)]
            try apply(ids.map { .append(AppendStream(path: path, contentType: "text/plain", body: .bytes([0]),
                                                     producer: ProducerTuple(id: $0, epoch: 3, seq: 0))) },
                      to: &model, state: state, from: 2)
            let meta = try db.columnFamily(named: CF.meta)
            let row = try #require(try db.get(Keys.stream(path), in: meta))
            #expect(row.count < 200, "the stream row holds no producer: \(row.count) bytes")
            #expect(try db.scan(meta, range: .prefix(Keys.producerPrefix)).count == 4)
            try apply([.delete(path)], to: &model, state: state, from: 10)
            #expect(try db.scan(meta, range: .prefix(Keys.producerPrefix)).isEmpty)
            try apply([.create(CreateStream(path: path, contentType: "text/plain")),
                       .append(AppendStream(path: path, contentType: "text/plain", body: .bytes([0]),
                                            producer: ProducerTuple(id: "cafe\u{301}", epoch: 1, seq: 0)))],
                      to: &model, state: state, from: 11)
            try db.close()
            (db, state) = try open()
            let loaded = try state.load().model
            #expect(loaded.streams == model.streams)
            #expect(loaded.streams[path]?.producers == ["cafe\u{301}": ProducerState(epoch: 1, lastSeq: 0, lastUsedAt: Self.now)])
        }
    }

    /// A stream row in the version-1 format (producers inline), stored under a key that is
    /// not its own path's bytes, with a wrong bucket count: what versions before the fix
    /// could leave behind. It loads, and is rewritten in today's form.
    @Test func aDataDirOfTheEarlierFormatOpensAndIsRepaired() throws {
        try withState { open in
            var (db, state) = try open()
            let meta = try db.columnFamily(named: CF.meta)
            var w = ByteWriter()
            w.u8(1); w.u64(5); w.varintString("_default"); w.varintString(Self.nfd.name); w.varintString("text/plain"); w.u8(0)
            w.i64(Self.now); w.i64(Self.now); w.i64(Self.now)
            w.u64(0); w.u64(0); w.u64(0); w.u64(3)  // base, tail
            w.u8(0); w.u8(0)  // open, no closing producer
            w.varint(2); w.varintString("a"); w.u64(1); w.u64(7); w.varintString("b"); w.u64(0); w.u64(2)
            w.u8(0); w.u8(0); w.u64(0); w.u8(0)  // no Stream-Seq, no fork, no forks, live
            // Stored under the NFC spelling's key (the aliasing bug).
            try db.put(Keys.stream(Self.nfc), w.bytes, in: meta, sync: true)
            try db.put(Keys.bucket("_default"), Codec.encode(BucketMeta(name: "_default", createdAt: 0, streamCount: 9)), in: meta, sync: true)
            try db.put(Keys.nextStreamID, BigEndian.bytes(UInt64(6)), in: meta, sync: true)

            let model = try state.load().model
            let stream = try #require(model.streams[Self.nfd])
            #expect(model.streams[Self.nfc] == nil)
            #expect(stream.tail == Offset(position: 3))
            #expect(stream.producers == ["a": ProducerState(epoch: 1, lastSeq: 7, lastUsedAt: Self.now),
                                         "b": ProducerState(epoch: 0, lastSeq: 2, lastUsedAt: Self.now)])
            #expect(model.buckets["_default"]?.streamCount == 1)
            #expect(try streamRowKeys(db) == [Keys.stream(Self.nfd)])
            try db.close()
            (db, state) = try open()
            #expect(try state.load().model.streams == model.streams)
            #expect(try db.get(Keys.stream(Self.nfd), in: db.columnFamily(named: CF.meta)).map { $0.first } == 3)
        }
    }

    /// Random hostile commands applied and persisted batch by batch: reloading from disk
    /// at any point gives back exactly the model.
    @Test(arguments: [21, 22] as [UInt64])
    func reloadingGivesBackTheModel(seed: UInt64) throws {
        try withState { open in
            var (db, state) = try open()
            var model = try state.load().model
            var rng = seed
            let names = ["caf\u{E9}", "cafe\u{301}", "\u{212B}", "\u{C5}", "s"]
            let ids = ["p", "caf\u{E9}", "cafe\u{301}", "\u{FFFD}"]
            func pick<T>(_ items: [T]) -> T {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                return items[Int((rng >> 33) % UInt64(items.count))]
            }
            for round in 0..<6 {
                var commands: [Command] = []
                for _ in 0..<150 {
                    let path = StreamPath(bucket: "_default", name: pick(names))
                    switch pick([0, 1, 1, 1, 2]) {
                    case 0: commands.append(.create(CreateStream(path: path, contentType: "text/plain")))
                    case 1: commands.append(.append(AppendStream(
                        path: path, contentType: "text/plain", body: .bytes([1, 2]),
                        producer: pick([true, false]) ? ProducerTuple(id: pick(ids), epoch: 0, seq: pick([0, 1, 2])) : nil)))
                    default: commands.append(.delete(path))
                    }
                }
                var effects = ApplyEffects()
                for command in commands { _ = model.apply(command, now: Self.now, effects: &effects) }
                try state.persist(effects, model: model, appliedIndex: UInt64(round + 1))
                try db.close()
                (db, state) = try open()
                let loaded = try state.load().model
                #expect(loaded.streams == model.streams, "seed \(seed) round \(round)")
                #expect(loaded.buckets == model.buckets, "seed \(seed) round \(round)")
            }
        }
    }
}
