/// How one append (a "data unit") is stored and how far it moves the tail.
///
/// A byte stream stores the body as is. A JSON stream stores the append's flattened messages,
/// each behind a 4-byte big-endian length, so reads can rebuild a JSON array and a fork can
/// cut a unit after any message. The tail advances by the stored length, so every offset
/// Runnel mints is a unit boundary (or, for JSON, a message boundary inside one).
public enum StoredUnit {
    /// The stored bytes of `body`.
    public static func encode(_ body: Body) -> [UInt8] {
        switch body {
        case .bytes(let bytes):
            return bytes
        case .json(let messages):
            return messages.bytes
        }
    }

    /// Appends one framed JSON message.
    public static func appendFramed(_ message: some Collection<UInt8>, to out: inout [UInt8]) {
        let n = UInt32(message.count)
        out.append(UInt8(n >> 24)); out.append(UInt8((n >> 16) & 0xFF))
        out.append(UInt8((n >> 8) & 0xFF)); out.append(UInt8(n & 0xFF))
        out.append(contentsOf: message)
    }

    /// Walks the frames of a stored JSON unit in order, calling `body` with each message's
    /// frame start and body range inside the unit, until `body` returns false. Returns
    /// false if the framing is damaged. Allocates nothing, however many messages there are.
    @discardableResult
    public static func forEachFrame(
        _ unit: UnsafeRawBufferPointer, _ body: (_ start: Int, _ message: Range<Int>) throws -> Bool
    ) rethrows -> Bool {
        var i = 0
        while i < unit.count {
            guard unit.count - i >= 4 else { return false }
            let n = Int(unit[i]) << 24 | Int(unit[i + 1]) << 16 | Int(unit[i + 2]) << 8 | Int(unit[i + 3])
            guard unit.count - i - 4 >= n else { return false }
            guard try body(i, (i + 4)..<(i + 4 + n)) else { return true }
            i += 4 + n
        }
        return true
    }

    /// The messages of a stored JSON unit, with their positions inside the unit, or `nil`
    /// if the framing is damaged.
    public static func jsonMessages(_ unit: UnsafeRawBufferPointer) -> [(start: Int, body: Range<Int>)]? {
        var result: [(start: Int, body: Range<Int>)] = []
        let intact = forEachFrame(unit) { start, body in
            result.append((start, body))
            return true
        }
        return intact ? result : nil
    }

    /// The stored form of the first `count` bytes (byte streams) or messages (JSON streams)
    /// of `unit`, as a sub-offset fork materializes it (protocol §3.1); `nil` if `count`
    /// overshoots the unit.
    public static func prefix(of unit: [UInt8], count: UInt64, json: Bool) -> [UInt8]? {
        if !json {
            guard count <= UInt64(unit.count) else { return nil }
            return Array(unit[..<Int(count)])
        }
        return unit.withUnsafeBytes { raw -> [UInt8]? in
            guard let messages = jsonMessages(raw), count <= UInt64(messages.count) else { return nil }
            let end = count == 0 ? 0 : messages[Int(count) - 1].body.upperBound
            return Array(raw[..<end])
        }
    }
}
