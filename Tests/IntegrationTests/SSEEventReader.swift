import Foundation
import NIOCore

/// An incremental SSE parser for tests that read a lot: it takes the body as it arrives and
/// keeps, per event, its type, the number of payload bytes on its `data:` lines and only the
/// start of the payload (enough for control events), so 64 MiB of events cost little.
struct SSEEventReader {
    struct Event {
        var type = ""
        /// Payload bytes on the event's `data:` lines (the prefix not counted).
        var dataBytes = 0
        /// The first `keep` bytes of the payload, lines joined with `\n`.
        var prefix: [UInt8] = []

        var text: String { String(decoding: prefix, as: UTF8.self) }

        /// The JSON object of a control event.
        var control: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(prefix)) as? [String: Any] }
    }

    static let keep = 4096
    private var line: [UInt8] = []
    private var lineLength = 0
    private var current = Event()

    /// Feeds body bytes; returns the events they completed.
    mutating func feed(_ buffer: ByteBuffer) -> [Event] {
        var events: [Event] = []
        buffer.withUnsafeReadableBytes { bytes in
            var start = 0
            while start < bytes.count {
                let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
                guard let hit = memchr(rest.baseAddress!, 0x0A, rest.count) else {
                    append(UnsafeRawBufferPointer(rebasing: rest[...]))
                    return
                }
                let end = start + (UnsafeRawPointer(hit) - rest.baseAddress!)
                append(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                if let event = endLine() { events.append(event) }
                start = end + 1
            }
        }
        return events
    }

    /// Keeps at most `keep` bytes of the line, counting all of it.
    private mutating func append(_ bytes: UnsafeRawBufferPointer) {
        lineLength += bytes.count
        let room = Self.keep - line.count
        if room > 0 { line.append(contentsOf: bytes.prefix(room)) }
    }

    private mutating func endLine() -> Event? {
        defer { line.removeAll(keepingCapacity: true); lineLength = 0 }
        if lineLength == 0 {
            guard !current.type.isEmpty || current.dataBytes > 0 else { return nil }
            defer { current = Event() }
            return current
        }
        if line.starts(with: Array("event:".utf8)) {
            current.type = String(decoding: line.dropFirst(6), as: UTF8.self).trimmingCharacters(in: .whitespaces)
        } else if line.starts(with: Array("data:".utf8)) {
            if current.dataBytes > 0 || !current.prefix.isEmpty { current.prefix.append(0x0A) }
            current.dataBytes += lineLength - 5
            current.prefix.append(contentsOf: line.dropFirst(5).prefix(max(0, Self.keep - current.prefix.count)))
        }
        return nil
    }
}
