import Foundation
import Testing
@testable import RocksDB

/// A fresh directory under the system temp dir; each test removes its own with `defer`.
struct TempDir {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("rocksdb-test-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func sub(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func b(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Every key/value of `cf`, forwards.
func contents(_ db: RocksDB, _ cf: ColumnFamily) throws -> [[UInt8]: [UInt8]] {
    var result: [[UInt8]: [UInt8]] = [:]
    for (key, value) in try db.scan(cf) { result[key] = value }
    return result
}

@Suite struct RocksDBTests {
    @Test func reopenKeepsData() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.sub("db")
        do {
            let db = try RocksDB(path: path, columnFamilies: ["log"])
            let log = try db.columnFamily(named: "log")
            try db.put(b("a"), b("1"), in: db.columnFamilies[0], sync: false)
            try db.put(b("synced"), b("yes"), in: log, sync: true)
            let batch = WriteBatch()
            batch.put(b("x"), b("10"), in: log)
            batch.put(b("y"), b("20"), in: log)
            batch.delete(b("x"), in: log)
            try db.write(batch, sync: true)
            try db.close()
        }
        let db = try RocksDB(path: path, columnFamilies: ["log"])
        let log = try db.columnFamily(named: "log")
        #expect(try db.get(b("a"), in: db.columnFamilies[0]) == b("1"))
        #expect(try db.get(b("synced"), in: log) == b("yes"))
        #expect(try db.get(b("x"), in: log) == nil)
        #expect(try db.get(b("y"), in: log) == b("20"))
        // Column families are separate key spaces.
        #expect(try db.get(b("a"), in: log) == nil)
        try db.close()
    }

    @Test func unflushedWritesSurviveReopenThroughTheWAL() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.sub("db")
        do {
            let db = try RocksDB(path: path, columnFamilies: [])
            for i in 0..<100 { try db.put(b("k\(i)"), b("v\(i)"), in: db.columnFamilies[0], sync: i == 99) }
            try db.close()
        }
        let db = try RocksDB(path: path, columnFamilies: [])
        #expect(try db.scan(db.columnFamilies[0]).count == 100)
        #expect(try db.get(b("k42"), in: db.columnFamilies[0]) == b("v42"))
    }

    @Test func columnFamiliesAreCreatedAndListed() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.sub("db")
        #expect(try RocksDB.listColumnFamilies(path: path) == [])
        do {
            let db = try RocksDB(path: path, columnFamilies: ["a", "b", "a"])
            #expect(db.columnFamilies.map(\.name) == ["default", "a", "b"])
            try db.put(b("k"), b("in b"), in: try db.columnFamily(named: "b"), sync: false)
            try db.close()
        }
        #expect(Set(try RocksDB.listColumnFamilies(path: path)) == ["default", "a", "b"])
        // Reopening with fewer requested families still opens (and exposes) the others.
        do {
            let db = try RocksDB(path: path, columnFamilies: ["b"])
            #expect(Set(db.columnFamilies.map(\.name)) == ["default", "a", "b"])
            #expect(db.columnFamilies.first?.name == "default")
            #expect(try db.get(b("k"), in: try db.columnFamily(named: "b")) == b("in b"))
            #expect(try db.columnFamily(named: "a") != (try db.columnFamily(named: "b")))
            let missing = #expect(throws: RocksDBError.self) { try db.columnFamily(named: "nope") }
            #expect(missing?.code == .invalidArgument)
            try db.close()
        }
        // A new family can be added later.
        do {
            let db = try RocksDB(path: path, columnFamilies: ["c"])
            #expect(Set(db.columnFamilies.map(\.name)) == ["default", "a", "b", "c"])
            try db.close()
        }
        #expect(Set(try RocksDB.listColumnFamilies(path: path)) == ["default", "a", "b", "c"])
    }

    @Test func checkpointIsASeparateConsistentDatabase() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let db = try RocksDB(path: dir.sub("db"), columnFamilies: ["meta", "data"])
        let cfs = db.columnFamilies
        for (i, cf) in cfs.enumerated() {
            for k in 0..<20 { try db.put(b("\(cf.name)-\(k)"), b("v\(i)-\(k)"), in: cf, sync: false) }
        }
        try db.delete(b("data-3"), in: try db.columnFamily(named: "data"), sync: false)
        let expected = try cfs.map { try contents(db, $0) }
        try db.checkpoint(to: dir.sub("checkpoint"))
        // Writes after the checkpoint stay out of it.
        try db.put(b("after"), b("1"), in: cfs[1], sync: true)
        try db.delete(b("default-0"), in: cfs[0], sync: true)

        var options = RocksDBOptions()
        options.readOnly = true
        let copy = try RocksDB(path: dir.sub("checkpoint"), columnFamilies: ["meta", "data"], options: options)
        #expect(copy.columnFamilies.map(\.name) == cfs.map(\.name))
        for (i, cf) in copy.columnFamilies.enumerated() {
            #expect(try contents(copy, cf) == expected[i], "column family \(cf.name)")
        }
        #expect(try copy.get(b("after"), in: copy.columnFamilies[1]) == nil)
        #expect(try copy.get(b("default-0"), in: copy.columnFamilies[0]) == b("v0-0"))
        #expect(try copy.get(b("data-3"), in: try copy.columnFamily(named: "data")) == nil)
        // Read-only really is read-only.
        let refused = #expect(throws: RocksDBError.self) {
            try copy.put(b("k"), b("v"), in: copy.columnFamilies[0], sync: false)
        }
        #expect(refused?.code == .notSupported)
        // The original moved on.
        #expect(try db.get(b("after"), in: cfs[1]) == b("1"))
        // A checkpoint needs a directory that does not exist yet.
        let again = #expect(throws: RocksDBError.self) { try db.checkpoint(to: dir.sub("checkpoint")) }
        #expect(again?.code == .invalidArgument)
        try copy.close()
        try db.close()
    }

    @Test func missingKeyIsNilAndEmptyValueIsEmpty() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let db = try RocksDB(path: dir.sub("db"), columnFamilies: [])
        let cf = db.columnFamilies[0]
        try db.put(b("empty"), [], in: cf, sync: false)
        try db.put([], b("empty key"), in: cf, sync: false)
        #expect(try db.get(b("empty"), in: cf) == [])
        #expect(try db.get(b("missing"), in: cf) == nil)
        #expect(try db.get([], in: cf) == b("empty key"))
        let big = [UInt8](repeating: 0xAB, count: 1 << 20)
        try db.put(b("big"), big, in: cf, sync: false)
        try db.flush()
        #expect(try db.get(b("big"), in: cf) == big)
        #expect(try db.get(b("empty"), in: cf) == [])
        // Keys and values are bytes, NUL and 0xFF included.
        try db.put([0, 0xFF, 0], [0xFF, 0, 0xFF], in: cf, sync: false)
        #expect(try db.get([0, 0xFF, 0], in: cf) == [0xFF, 0, 0xFF])
        #expect(try db.get([0, 0xFF], in: cf) == nil)
        try db.delete(b("empty"), in: cf, sync: false)
        try db.delete(b("never there"), in: cf, sync: false)
        #expect(try db.get(b("empty"), in: cf) == nil)
        #expect(db.property("rocksdb.estimate-num-keys") != nil)
        #expect(db.property("rocksdb.no-such-property") == nil)
        try db.close()
    }

    @Test func writeBatchDeleteRangeAndBookkeeping() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let db = try RocksDB(path: dir.sub("db"), columnFamilies: ["x"])
        let cf = try db.columnFamily(named: "x")
        let setup = WriteBatch()
        for i in 0..<10 { setup.put(b("k\(i)"), b("\(i)"), in: cf) }
        #expect(setup.count == 10)
        #expect(setup.byteSize > 0)
        try db.write(setup, sync: false)

        let batch = WriteBatch()
        batch.deleteRange(from: b("k3"), to: b("k7"), in: cf)
        batch.put(b("k5"), b("re-put after the range delete"), in: cf)
        b("raw").withUnsafeBytes { batch.put(b("r"), bytes: $0, in: cf) }
        batch.put(b("r0"), bytes: UnsafeRawBufferPointer(start: nil, count: 0), in: cf)
        #expect(batch.count == 4)
        try db.write(batch, sync: true)
        #expect(try db.scan(cf).map(\.key) == ["k0", "k1", "k2", "k5", "k7", "k8", "k9", "r", "r0"].map(b))
        #expect(try db.get(b("k5"), in: cf) == b("re-put after the range delete"))
        #expect(try db.get(b("r"), in: cf) == b("raw"))
        #expect(try db.get(b("r0"), in: cf) == [])

        batch.clear()
        #expect(batch.count == 0)
        try db.write(batch, sync: false)  // an empty batch is fine
        try db.close()
    }

    @Test func snapshotReadsIgnoreLaterWrites() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let db = try RocksDB(path: dir.sub("db"), columnFamilies: ["x"])
        let cf = try db.columnFamily(named: "x")
        try db.put(b("a"), b("old"), in: cf, sync: false)
        try db.put(b("b"), b("kept"), in: cf, sync: false)
        do {
            let snapshot = db.snapshot()
            try db.put(b("a"), b("new"), in: cf, sync: false)
            try db.delete(b("b"), in: cf, sync: false)
            try db.put(b("c"), b("added"), in: cf, sync: false)
            try db.flush()
            #expect(try snapshot.get(b("a"), in: cf) == b("old"))
            #expect(try snapshot.get(b("b"), in: cf) == b("kept"))
            #expect(try snapshot.get(b("c"), in: cf) == nil)
            #expect(try db.scan(cf, snapshot: snapshot).map(\.value) == [b("old"), b("kept")])
            #expect(try db.get(b("a"), in: cf) == b("new"))
            #expect(try db.scan(cf).map(\.key) == [b("a"), b("c")])
            let refused = #expect(throws: RocksDBError.self) { try db.close() }
            #expect(refused?.code == .closed)
            withExtendedLifetime(snapshot) {}
        }
        try db.close()
    }

    @Test func closeRefusesWhileAnIteratorIsAlive() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let db = try RocksDB(path: dir.sub("db"), columnFamilies: [])
        try db.put(b("k"), b("v"), in: db.columnFamilies[0], sync: false)
        do {
            let iterator = db.makeIterator(db.columnFamilies[0])
            iterator.seekToFirst()
            let refused = #expect(throws: RocksDBError.self) { try db.close() }
            #expect(refused?.code == .closed)
            // The refusal left the database usable.
            #expect(iterator.isValid && iterator.key == b("k"))
            #expect(try db.get(b("k"), in: db.columnFamilies[0]) == b("v"))
            withExtendedLifetime(iterator) {}
        }
        try db.close()
        // Closing twice is harmless.
        try db.close()
    }

    @Test func openingAFileFailsWithATypedError() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let file = dir.sub("not-a-directory")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("hello".utf8)))
        let error = #expect(throws: RocksDBError.self) { try RocksDB(path: file, columnFamilies: ["a"]) }
        #expect(error?.code == .ioError)
        #expect(error?.message.isEmpty == false)
        #expect(throws: RocksDBError.self) { try RocksDB.listColumnFamilies(path: file) }
        // The file was left alone.
        #expect(FileManager.default.contents(atPath: file) == Data("hello".utf8))
    }

    @Test func openingAMissingDatabaseReadOnlyFails() throws {
        let dir = TempDir()
        defer { dir.remove() }
        var options = RocksDBOptions()
        options.readOnly = true
        options.createIfMissing = false
        #expect(throws: RocksDBError.self) { try RocksDB(path: dir.sub("none"), columnFamilies: [], options: options) }
    }

    @Test func aSecondOpenOfTheSameDatabaseIsRefused() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let db = try RocksDB(path: dir.sub("db"), columnFamilies: [])
        let error = #expect(throws: RocksDBError.self) { try RocksDB(path: dir.sub("db"), columnFamilies: []) }
        #expect(error?.code == .ioError)
        try db.close()
        // Once closed, the lock is released.
        let again = try RocksDB(path: dir.sub("db"), columnFamilies: [])
        try again.close()
    }
}
