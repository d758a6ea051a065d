import CRocksDB

/// A half-open key range `[lower, upper)` for iteration; `nil` bounds are open ends.
public struct KeyRange: Sendable, Hashable {
    public var lower: [UInt8]?
    public var upper: [UInt8]?

    public init(lower: [UInt8]? = nil, upper: [UInt8]? = nil) {
        self.lower = lower
        self.upper = upper
    }

    /// Every key in the column family.
    public static let all = KeyRange()

    /// Every key that starts with `prefix`.
    public static func prefix(_ prefix: [UInt8]) -> KeyRange {
        KeyRange(lower: prefix, upper: successor(ofPrefix: prefix))
    }

    /// The smallest key greater than every key starting with `prefix`, or `nil` when the
    /// prefix is empty or all `0xFF` (no such key exists).
    public static func successor(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        var bound = prefix
        while let last = bound.last {
            if last < 0xFF {
                bound[bound.count - 1] = last + 1
                return bound
            }
            bound.removeLast()
        }
        return nil
    }
}

/// A cursor over one column family, bounded by a `KeyRange`, optionally reading a snapshot.
///
/// The iterator keeps its database (and snapshot) alive until it is deinitialized. It is not
/// thread-safe. Pointers into its key and value are only valid until the next movement, so
/// `key` and `value` copy; `withCurrent` lends them without copying.
public final class RocksIterator {
    private let db: RocksDB
    private let snapshot: RocksSnapshot?
    private let options: OpaquePointer
    private let raw: OpaquePointer
    // RocksDB keeps pointers to the bounds instead of copying them (c.cc), so they live here
    // until the iterator is destroyed.
    private let lowerBound: UnsafeMutableBufferPointer<CChar>?
    private let upperBound: UnsafeMutableBufferPointer<CChar>?

    init(db: RocksDB, cf: ColumnFamily, range: KeyRange, snapshot: RocksSnapshot?) {
        self.db = db
        self.snapshot = snapshot
        options = rocksdb_readoptions_create()
        lowerBound = Self.stable(range.lower)
        upperBound = Self.stable(range.upper)
        if let lowerBound {
            rocksdb_readoptions_set_iterate_lower_bound(options, lowerBound.baseAddress, lowerBound.count)
        }
        if let upperBound {
            rocksdb_readoptions_set_iterate_upper_bound(options, upperBound.baseAddress, upperBound.count)
        }
        if let snapshot {
            rocksdb_readoptions_set_snapshot(options, snapshot.raw)
        }
        raw = rocksdb_create_iterator_cf(db.db, options, cf.handle)
        db.retainChild()
    }

    deinit {
        rocksdb_iter_destroy(raw)
        rocksdb_readoptions_destroy(options)
        lowerBound?.deallocate()
        upperBound?.deallocate()
        db.releaseChild()
    }

    private static func stable(_ bytes: [UInt8]?) -> UnsafeMutableBufferPointer<CChar>? {
        guard let bytes else { return nil }
        let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: max(bytes.count, 1))
        for (i, byte) in bytes.enumerated() { buffer[i] = CChar(bitPattern: byte) }
        return UnsafeMutableBufferPointer(rebasing: buffer[0..<bytes.count])
    }

    /// Whether the iterator is positioned on an entry inside its range.
    public var isValid: Bool { rocksdb_iter_valid(raw) != 0 }

    public func seekToFirst() { rocksdb_iter_seek_to_first(raw) }
    public func seekToLast() { rocksdb_iter_seek_to_last(raw) }
    /// Positions at the first key `>= key`.
    public func seek(_ key: [UInt8]) { key.withSlice { rocksdb_iter_seek(raw, $0, $1) } }
    /// Positions at the last key `<= key`.
    public func seekForPrev(_ key: [UInt8]) { key.withSlice { rocksdb_iter_seek_for_prev(raw, $0, $1) } }
    public func next() { rocksdb_iter_next(raw) }
    public func prev() { rocksdb_iter_prev(raw) }

    /// The current key, copied. Only valid while `isValid`.
    public var key: [UInt8] { withCurrent { key, _ in Array(key) } }
    /// The current value, copied. Only valid while `isValid`.
    public var value: [UInt8] { withCurrent { _, value in Array(value) } }

    /// Lends the current key and value without copying; the buffers die at the next move.
    public func withCurrent<R, E: Error>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var keyLength = 0
        var valueLength = 0
        let key = rocksdb_iter_key(raw, &keyLength)
        let value = rocksdb_iter_value(raw, &valueLength)
        return try body(
            UnsafeRawBufferPointer(start: key, count: keyLength),
            UnsafeRawBufferPointer(start: value, count: valueLength))
    }

    /// Throws the error that stopped iteration, if any. An iterator that became invalid
    /// because of an I/O error or corruption looks exactly like one that reached the end of
    /// its range; call this after every loop.
    public func checkError() throws(RocksDBError) {
        try rocksCall { err in rocksdb_iter_get_error(raw, err) }
    }
}

extension RocksDB {
    /// An iterator over `range` of `cf`, reading the latest state or `snapshot`.
    public func makeIterator(_ cf: ColumnFamily, range: KeyRange = .all, snapshot: RocksSnapshot? = nil) -> RocksIterator {
        RocksIterator(db: self, cf: cf, range: range, snapshot: snapshot)
    }

    /// Up to `limit` key/value pairs of `range`, in key order or, with `reverse`, backwards.
    public func scan(
        _ cf: ColumnFamily, range: KeyRange = .all, reverse: Bool = false, limit: Int = .max,
        snapshot: RocksSnapshot? = nil
    ) throws(RocksDBError) -> [(key: [UInt8], value: [UInt8])] {
        let iterator = makeIterator(cf, range: range, snapshot: snapshot)
        if reverse { iterator.seekToLast() } else { iterator.seekToFirst() }
        var result: [(key: [UInt8], value: [UInt8])] = []
        while iterator.isValid && result.count < limit {
            result.append(iterator.withCurrent { (Array($0), Array($1)) })
            if reverse { iterator.prev() } else { iterator.next() }
        }
        try iterator.checkError()
        return result
    }
}
