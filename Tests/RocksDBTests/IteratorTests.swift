import Foundation
import Testing
@testable import RocksDB

/// Bounded iteration: prefixes, ranges, both directions, seeks.
@Suite struct IteratorTests {
    /// Keys chosen around the edges of the `0x01 0xFF` and `0xFF 0xFF` prefixes.
    static let keys: [[UInt8]] = [
        [0x00],
        [0x01],
        [0x01, 0xFE, 0xFF],
        [0x01, 0xFF],
        [0x01, 0xFF, 0x00],
        [0x01, 0xFF, 0x80],
        [0x01, 0xFF, 0xFF],
        [0x01, 0xFF, 0xFF, 0xFF],
        [0x02],
        [0x02, 0x00],
        [0xFE, 0xFF, 0xFF],
        [0xFF],
        [0xFF, 0xFE],
        [0xFF, 0xFF],
        [0xFF, 0xFF, 0x00],
        [0xFF, 0xFF, 0xFF, 0xFF],
    ]

    /// Runs `body` on a database holding `keys` in column family "x", each key's value being
    /// its reversed bytes.
    func withDatabase(_ body: (RocksDB, ColumnFamily) throws -> Void) throws {
        let dir = TempDir()
        defer { dir.remove() }
        let db = try RocksDB(path: dir.sub("db"), columnFamilies: ["x"])
        let cf = try db.columnFamily(named: "x")
        let batch = WriteBatch()
        // Inserted out of order: RocksDB sorts bytewise.
        for key in Self.keys.reversed() { batch.put(key, key.reversed(), in: cf) }
        try db.write(batch, sync: false)
        try body(db, cf)
        try db.close()
    }

    @Test(arguments: [
        [0x01],
        [0x01, 0xFF],
        [0x01, 0xFF, 0xFF],
        [0xFF],
        [0xFF, 0xFF],
        [0xFF, 0xFF, 0xFF],
        [0x03],
        [],
    ] as [[UInt8]])
    func prefixScans(_ prefix: [UInt8]) throws {
        let expected = Self.keys.filter { $0.starts(with: prefix) }
        try withDatabase { db, cf throws in
            let forward = try db.scan(cf, range: .prefix(prefix))
            #expect(forward.map(\.key) == expected)
            #expect(forward.map(\.value) == expected.map { Array($0.reversed()) })
            #expect(try db.scan(cf, range: .prefix(prefix), reverse: true).map(\.key) == expected.reversed())
            #expect(try db.scan(cf, range: .prefix(prefix), limit: 2).map(\.key) == Array(expected.prefix(2)))
            #expect(try db.scan(cf, range: .prefix(prefix), reverse: true, limit: 1).map(\.key)
                    == Array(expected.suffix(1)))
            // The same after a flush, when the keys come from SST files.
            try db.flush()
            #expect(try db.scan(cf, range: .prefix(prefix)).map(\.key) == expected)
            #expect(try db.scan(cf, range: .prefix(prefix), reverse: true).map(\.key) == expected.reversed())
        }
    }

    @Test(arguments: [
        ([], nil),
        ([0x00], [0x01]),
        ([0x01, 0xFF], [0x02]),
        ([0x01, 0xFE, 0xFF], [0x01, 0xFF]),
        ([0x01, 0xFF, 0xFF], [0x02]),
        ([0xFF], nil),
        ([0xFF, 0xFF, 0xFF], nil),
        ([0x61, 0x62], [0x61, 0x63]),
    ] as [([UInt8], [UInt8]?)])
    func prefixSuccessor(_ prefix: [UInt8], _ successor: [UInt8]?) {
        #expect(KeyRange.successor(ofPrefix: prefix) == successor)
    }

    @Test func rangeScans() throws {
        try withDatabase { db, cf throws in
            let range = KeyRange(lower: [0x01, 0xFF], upper: [0x02, 0x00])
            let expected = Self.keys.filter { !$0.lexicographicallyPrecedes([0x01, 0xFF]) && $0.lexicographicallyPrecedes([0x02, 0x00]) }
            #expect(expected.count == 6)
            #expect(try db.scan(cf, range: range).map(\.key) == expected)
            #expect(try db.scan(cf, range: range, reverse: true).map(\.key) == expected.reversed())
            // Open ends.
            #expect(try db.scan(cf, range: KeyRange(upper: [0x01, 0xFF])).map(\.key) == Array(Self.keys.prefix(3)))
            #expect(try db.scan(cf, range: KeyRange(lower: [0xFF, 0xFF])).map(\.key) == Array(Self.keys.suffix(3)))
            #expect(try db.scan(cf).map(\.key) == Self.keys)
            #expect(try db.scan(cf, reverse: true).map(\.key) == Self.keys.reversed())
            // An empty range.
            #expect(try db.scan(cf, range: KeyRange(lower: [0x03], upper: [0x04])).isEmpty)
            #expect(try db.scan(cf, range: KeyRange(lower: [0x03], upper: [0x04]), reverse: true).isEmpty)
        }
    }

    @Test func seeksStayInsideTheBounds() throws {
        try withDatabase { db, cf throws in
            let it = db.makeIterator(cf, range: .prefix([0x01, 0xFF]))
            it.seekToFirst()
            #expect(it.isValid && it.key == [0x01, 0xFF])
            it.prev()
            #expect(!it.isValid)  // [0x01, 0xFE, 0xFF] is below the lower bound

            it.seekToLast()
            #expect(it.isValid && it.key == [0x01, 0xFF, 0xFF, 0xFF])
            it.next()
            #expect(!it.isValid)  // [0x02] is at the upper bound

            it.seek([0x01, 0xFF, 0x01])
            #expect(it.isValid && it.key == [0x01, 0xFF, 0x80])
            it.seek([0x00])  // before the range: clamped to the first key in range
            #expect(it.isValid && it.key == [0x01, 0xFF])
            it.seek([0x01, 0xFF, 0xFF, 0xFF, 0x00])  // after the last key in range
            #expect(!it.isValid)

            it.seekForPrev([0x01, 0xFF, 0x7F])
            #expect(it.isValid && it.key == [0x01, 0xFF, 0x00])
            it.seekForPrev([0x01, 0xFF, 0x80])
            #expect(it.isValid && it.key == [0x01, 0xFF, 0x80])
            it.seekForPrev([0x09])  // past the range: clamped to the last key in range
            #expect(it.isValid && it.key == [0x01, 0xFF, 0xFF, 0xFF])
            it.seekForPrev([0x01, 0xFE])  // below the range
            #expect(!it.isValid)

            // Walking backwards and forwards over the whole range.
            var backwards: [[UInt8]] = []
            it.seekToLast()
            while it.isValid {
                backwards.append(it.key)
                it.prev()
            }
            #expect(backwards == Self.keys.filter { $0.starts(with: [0x01, 0xFF]) }.reversed())
            try it.checkError()

            it.seek([0x01, 0xFF, 0x80])
            let lent = it.withCurrent { key, value in (Array(key), Array(value)) }
            #expect(lent.0 == [0x01, 0xFF, 0x80] && lent.1 == [0x80, 0xFF, 0x01])
            #expect(it.value == [0x80, 0xFF, 0x01])
        }
    }

    @Test func unboundedPrefixOfFFs() throws {
        try withDatabase { db, cf throws in
            let it = db.makeIterator(cf, range: .prefix([0xFF, 0xFF]))
            it.seekToLast()
            #expect(it.isValid && it.key == [0xFF, 0xFF, 0xFF, 0xFF])
            it.seekToFirst()
            #expect(it.isValid && it.key == [0xFF, 0xFF])
            it.prev()
            #expect(!it.isValid)
        }
    }

    @Test func iteratorsSeeTheirSnapshot() throws {
        try withDatabase { db, cf throws in
            let snapshot = db.snapshot()
            try db.put([0x01, 0xFF, 0x01], [1], in: cf, sync: false)
            try db.delete([0x01, 0xFF], in: cf, sync: false)
            let old = try db.scan(cf, range: .prefix([0x01, 0xFF]), snapshot: snapshot).map(\.key)
            let new = try db.scan(cf, range: .prefix([0x01, 0xFF])).map(\.key)
            #expect(old == Self.keys.filter { $0.starts(with: [0x01, 0xFF]) })
            #expect(new == [[0x01, 0xFF, 0x00], [0x01, 0xFF, 0x01], [0x01, 0xFF, 0x80], [0x01, 0xFF, 0xFF],
                            [0x01, 0xFF, 0xFF, 0xFF]])
            withExtendedLifetime(snapshot) {}
        }
    }

    @Test func iteratorBoundsOutliveTheRangeValue() throws {
        try withDatabase { db, cf throws in
            // The bounds are copied into storage owned by the iterator; the arrays they came
            // from can die (and their memory be reused) while the iterator is in use.
            let it: RocksIterator = {
                var lower: [UInt8] = [0x01, 0xFF]
                var upper: [UInt8] = [0x02]
                let it = db.makeIterator(cf, range: KeyRange(lower: lower, upper: upper))
                lower = [0x00]
                upper = [0xFF, 0xFF, 0xFF]
                _ = (lower, upper)
                return it
            }()
            _ = [[UInt8]](repeating: [0xFF, 0xFF, 0xFF, 0xFF], count: 1_000)
            var seen: [[UInt8]] = []
            it.seekToFirst()
            while it.isValid {
                seen.append(it.key)
                it.next()
            }
            #expect(seen == Self.keys.filter { $0.starts(with: [0x01, 0xFF]) })
        }
    }
}

/// `RocksDBError.Code.parse`: RocksDB's C API only gives `Status::ToString()`.
@Suite struct RocksDBErrorTests {
    @Test(arguments: [
        ("IO error: No such file or directory: While opening a file", RocksDBError.Code.ioError),
        ("IO error: While lock file: /tmp/x/LOCK: Resource temporarily unavailable", .ioError),
        ("Corruption: block checksum mismatch", .corruption),
        ("Invalid argument: Column family not found: x", .invalidArgument),
        ("NotFound: ", .notFound),
        ("Not implemented: Not supported operation in read only mode.", .notSupported),
        ("Result incomplete: ", .incomplete),
        ("Shutdown in progress: ", .shutdownInProgress),
        ("Operation timed out: ", .timedOut),
        ("Operation aborted: ", .aborted),
        ("Resource busy: ", .busy),
        ("Operation failed. Try again.: ", .tryAgain),
        ("Column family dropped: ", .columnFamilyDropped),
        ("", .unknown),
        ("something else", .unknown),
        ("io error: lower case", .unknown),
        (" IO error: leading space", .unknown),
    ])
    func parse(_ message: String, _ code: RocksDBError.Code) {
        #expect(RocksDBError.Code.parse(message) == code)
        let error = RocksDBError(rocksMessage: message)
        #expect(error.code == code)
        #expect(error.message == message)
    }

    @Test func codesWithoutPublicConstants() {
        #expect(RocksDBError.Code.parse("Merge in progress: x").description == "Merge in progress")
        #expect(RocksDBError.Code.parse("Operation expired: x").description == "Operation expired")
        #expect(RocksDBError.Code.parse("Compaction too large: x").description == "Compaction too large")
        #expect(RocksDBError.Code.parse("Operation expired: x") != .unknown)
    }

    @Test func description() {
        let error = RocksDBError(code: .closed, message: "1 iterator(s) still open")
        #expect(error.description == "RocksDBError(Database closed): 1 iterator(s) still open")
    }
}
