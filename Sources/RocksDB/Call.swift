import CRocksDB

/// Runs a RocksDB C call that reports failure through a `char** errptr`, converting the
/// malloc'ed message into a typed error and freeing it.
@inline(__always)
func rocksCall<T>(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T) throws(RocksDBError) -> T {
    var err: UnsafeMutablePointer<CChar>? = nil
    let result = body(&err)
    if let err {
        let message = String(cString: err)
        rocksdb_free(err)
        throw RocksDBError(rocksMessage: message)
    }
    return result
}

extension Array where Element == UInt8 {
    /// Calls `body` with a (pointer, length) pair suitable for RocksDB's `const char*` slices.
    /// An empty array still yields a valid, non-null pointer.
    @inline(__always)
    func withSlice<R, E: Error>(_ body: (UnsafePointer<CChar>, Int) throws(E) -> R) throws(E) -> R {
        try withUnsafeBufferPointer { buffer throws(E) in
            if let base = buffer.baseAddress {
                return try base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { p throws(E) in try body(p, buffer.count) }
            }
            var zero: CChar = 0
            return try body(&zero, 0)
        }
    }
}
