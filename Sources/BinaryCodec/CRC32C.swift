/// CRC-32C (Castagnoli, reflected polynomial `0x82F63B78`), computed incrementally: the
/// checksum of snapshot files (docs/state-transfer.md §1), the same function as iSCSI's,
/// ext4's metadata checksums and RocksDB's block checksums.
///
/// Table-driven, eight bytes per step ("slicing-by-8", Kounavis and Berry), so checking a file
/// costs far less than reading it. `update` may be called with the bytes in any split; the
/// result only depends on their concatenation.
public struct CRC32C: Sendable, Hashable {
    /// The running register, inverted (the standard pre- and post-conditioning).
    @usableFromInline var state: UInt32 = 0xFFFF_FFFF

    /// A checksum of no bytes.
    public init() {}

    /// The checksum of the bytes given so far.
    @inlinable public var value: UInt32 { ~state }

    /// The checksum of `bytes` in one call.
    @inlinable
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// Adds `bytes` (an array, a slice, `UnsafeRawBufferPointer`, …); contiguous storage goes
    /// through the fast path without a copy.
    @inlinable
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            update(UnsafeRawBufferPointer(buffer))
        }
        if done == nil {
            for byte in bytes { state = Self.step(state, byte) }
        }
    }

    /// Adds the bytes of `buffer`.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard var p = buffer.baseAddress, buffer.count > 0 else { return }
        var n = buffer.count
        var crc = state
        Self.tables.withUnsafeBufferPointer { t in
            let t = t.baseAddress!
            // Single bytes until `p` is 8-byte aligned, so the wide loads below are aligned.
            while n > 0 && UInt(bitPattern: p) & 7 != 0 {
                crc = t[Int((crc ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
                p += 1
                n -= 1
            }
            while n >= 8 {
                let word = UInt64(littleEndian: p.load(as: UInt64.self))
                let low = UInt32(truncatingIfNeeded: word) ^ crc
                let high = UInt32(truncatingIfNeeded: word >> 32)
                crc = t[7 * 256 + Int(low & 0xFF)]
                    ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)]
                    ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)]
                    ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)]
                    ^ t[Int(high >> 24)]
                p += 8
                n -= 8
            }
            while n > 0 {
                crc = t[Int((crc ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
                p += 1
                n -= 1
            }
        }
        state = crc
    }

    /// The reflected Castagnoli polynomial.
    static let polynomial: UInt32 = 0x82F6_3B78

    /// One byte through the basic table (the slow path for non-contiguous sequences).
    @usableFromInline
    static func step(_ crc: UInt32, _ byte: UInt8) -> UInt32 {
        tables[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
    }

    /// Eight tables of 256 entries, one after another: table `k` holds the CRC of a byte
    /// followed by `k` zero bytes, which lets one step fold in eight bytes at once.
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var crc = UInt32(i)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
            t[i] = crc
        }
        for k in 1..<8 {
            for i in 0..<256 {
                let previous = t[(k - 1) * 256 + i]
                t[k * 256 + i] = t[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return t
    }()
}
