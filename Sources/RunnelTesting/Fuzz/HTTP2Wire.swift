/// Just enough HTTP/2 (RFC 9113) and HPACK (RFC 7541) to hand-encode hostile client frames
/// and to read the server's answers: frames by type, header blocks of literal fields without
/// indexing and without Huffman coding, and the `:status` of a response header block.
public enum HTTP2Wire {
    /// RFC 9113 §3.4.
    public static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// Frame types (RFC 9113 §6).
    public enum FrameType: UInt8 {
        case data = 0, headers, priority, rstStream, settings, pushPromise, ping, goaway, windowUpdate, continuation
    }

    public static let endStream: UInt8 = 0x1
    public static let ack: UInt8 = 0x1
    public static let endHeaders: UInt8 = 0x4
    public static let padded: UInt8 = 0x8
    public static let priorityFlag: UInt8 = 0x20

    /// One frame; `declaredLength` overrides the length field (a lie, for mutated frames).
    public static func frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32, _ payload: [UInt8], declaredLength: Int? = nil) -> [UInt8] {
        let length = UInt32(truncatingIfNeeded: declaredLength ?? payload.count) & 0xFF_FFFF
        return [UInt8(length >> 16), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF), type, flags] + be32(stream) + payload
    }

    public static func frame(_ type: FrameType, flags: UInt8 = 0, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        frame(type.rawValue, flags: flags, stream: stream, payload)
    }

    /// A SETTINGS frame of (identifier, value) pairs (RFC 9113 §6.5).
    public static func settings(_ pairs: [(UInt16, UInt32)]) -> [UInt8] {
        frame(.settings, stream: 0, pairs.flatMap { [UInt8($0.0 >> 8), UInt8($0.0 & 0xFF)] + be32($0.1) })
    }

    /// The client's opening: preface, SETTINGS with a zero header table (so every answer's
    /// `:status` is readable without tracking a dynamic table) and a large window, and an ACK
    /// of the server's SETTINGS, which the server sends before reading anything.
    public static var opening: [UInt8] {
        preface + settings([(0x1, 0), (0x2, 0), (0x4, 1 << 20)]) + frame(.settings, flags: ack, stream: 0, [])
    }

    public static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// An HPACK integer with an `prefixBits`-bit prefix, `pattern` in the high bits
    /// (RFC 7541 §5.1).
    public static func integer(_ value: Int, prefixBits: Int, pattern: UInt8) -> [UInt8] {
        let limit = (1 << prefixBits) - 1
        if value < limit { return [pattern | UInt8(value)] }
        var out: [UInt8] = [pattern | UInt8(limit)]
        var rest = value - limit
        while rest >= 128 {
            out.append(UInt8(rest % 128 + 128))
            rest /= 128
        }
        out.append(UInt8(rest))
        return out
    }

    /// A literal header field without indexing, new name, no Huffman (RFC 7541 §6.2.2).
    public static func literal(_ name: [UInt8], _ value: [UInt8]) -> [UInt8] {
        [0x00] + integer(name.count, prefixBits: 7, pattern: 0) + name + integer(value.count, prefixBits: 7, pattern: 0) + value
    }

    /// A header block of literal fields.
    public static func headerBlock(_ fields: [([UInt8], [UInt8])]) -> [UInt8] {
        fields.flatMap { literal($0.0, $0.1) }
    }

    /// A frame read from the server.
    public struct Frame: Sendable {
        public var type: UInt8
        public var flags: UInt8
        public var stream: UInt32
        public var payload: [UInt8]
    }

    /// Splits the server's bytes into frames as they arrive.
    public struct FrameReader: Sendable {
        private var buffer: [UInt8] = []
        public init() {}

        public mutating func append(_ bytes: [UInt8]) { buffer += bytes }

        public mutating func next() -> Frame? {
            guard buffer.count >= 9 else { return nil }
            let length = Int(buffer[0]) << 16 | Int(buffer[1]) << 8 | Int(buffer[2])
            guard buffer.count >= 9 + length else { return nil }
            let stream = (UInt32(buffer[5]) << 24 | UInt32(buffer[6]) << 16 | UInt32(buffer[7]) << 8 | UInt32(buffer[8])) & 0x7FFF_FFFF
            let frame = Frame(type: buffer[3], flags: buffer[4], stream: stream, payload: Array(buffer[9..<(9 + length)]))
            buffer.removeFirst(9 + length)
            return frame
        }
    }
}
