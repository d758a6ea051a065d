import Foundation
import Raft
import RocksDB
@testable import Storage
import Testing

/// The Raft log's own contract: appends extend it, a save that starts inside the stored log
/// replaces the suffix from that index on, and what is stored survives reopening.
@Suite struct LogStoreTests {
    private func entry(_ index: UInt64, term: UInt64 = 1) -> Entry {
        Entry(term: term, index: index, kind: .normal, data: Array("t\(term)i\(index)".utf8))
    }

    private func withLog(_ body: (_ reopen: () throws -> LogStore) throws -> Void) throws {
        let directory = NSTemporaryDirectory() + "runnel-log-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body { try LogStore(db: RocksDB(path: directory, columnFamilies: CF.all)) }
    }

    @Test func appendsExtendAndConflictsReplaceTheSuffix() throws {
        try withLog { open in
            let log = try open()
            try log.save(entries: (1...5).map { entry($0) }, sync: false)
            try log.save(entries: [entry(6), entry(7)], sync: false)
            #expect(try log.lastIndex() == 7)
            // A new leader's entries from index 4 on replace 4...7 even though the save is shorter.
            try log.save(entries: [entry(4, term: 2)], sync: false)
            #expect(try log.lastIndex() == 4)
            #expect(try log.entries(from: 1, through: .max).map(\.term) == [1, 1, 1, 2])
            // Appending after a replacement neither resurrects nor keeps stale entries.
            try log.save(entries: [entry(5, term: 2), entry(6, term: 2)], sync: false)
            #expect(try log.entries(from: 1, through: .max).map(\.index) == [1, 2, 3, 4, 5, 6])
            #expect(try log.entries(from: 5, through: 6).map(\.term) == [2, 2])
        }
    }

    @Test func aReopenedLogReplacesASuffixWrittenBeforeTheRestart() throws {
        try withLog { open in
            do {
                let log = try open()
                try log.save(entries: (1...6).map { entry($0) }, sync: true)
            }
            // A fresh instance knows nothing of what is stored until it reads it.
            let log = try open()
            try log.save(entries: [entry(3, term: 3)], sync: true)
            #expect(try log.lastIndex() == 3)
            #expect(try log.entries(from: 1, through: .max).map(\.term) == [1, 1, 3])
        }
    }

    @Test func compactionDropsThePrefixOnly() throws {
        try withLog { open in
            let log = try open()
            try log.save(entries: (1...10).map { entry($0) }, sync: false)
            try log.save(entries: [entry(11)], compactThrough: 6, sync: false)
            #expect(try log.firstIndex() == 7)
            #expect(try log.lastIndex() == 11)
            #expect(try log.entries(from: 7, through: .max).count == 5)
        }
    }
}
