import NIOCore

/// Splits a `live=sse` response body (protocol §8.4) into the `data:` lines of `data` and
/// `control` events, whatever way the bytes are cut into reads. Lines end in LF (a CR
/// before it is dropped); a blank line ends an event.
struct SSEParser {
    enum Kind { case none, data, control, other }

    private var kind = Kind.none
    private var carry: [UInt8] = []

    /// Feeds the next bytes; `onLine` gets each complete `data:` line's value (one leading
    /// space stripped) with the kind of the event it belongs to.
    mutating func feed(_ buffer: ByteBuffer, onLine: (Kind, UnsafeRawBufferPointer) -> Void) {
        buffer.withUnsafeReadableBytes { bytes in
            var start = 0
            while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if carry.isEmpty {
                    line(UnsafeRawBufferPointer(rebasing: bytes[start..<newline]), onLine)
                } else {
                    carry.append(contentsOf: bytes[start..<newline])
                    let whole = carry
                    carry.removeAll(keepingCapacity: true)
                    whole.withUnsafeBytes { line($0, onLine) }
                }
                start = newline + 1
            }
            carry.append(contentsOf: bytes[start...])
        }
    }

    private mutating func line(_ raw: UnsafeRawBufferPointer, _ onLine: (Kind, UnsafeRawBufferPointer) -> Void) {
        var text = raw
        if text.last == UInt8(ascii: "\r") { text = UnsafeRawBufferPointer(rebasing: text.dropLast()) }
        if text.isEmpty {
            kind = .none
        } else if let value = Self.value(of: "data:", in: text) {
            onLine(kind, value)
        } else if let value = Self.value(of: "event:", in: text) {
            switch String(decoding: value, as: UTF8.self) {
            case "data": kind = .data
            case "control": kind = .control
            default: kind = .other
            }
        }
    }

    /// The rest of `line` after `field` and one optional space, if `line` starts with it.
    private static func value(of field: StaticString, in line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let name = UnsafeRawBufferPointer(start: field.utf8Start, count: field.utf8CodeUnitCount)
        guard line.count >= name.count, line.prefix(name.count).elementsEqual(name) else { return nil }
        var rest = UnsafeRawBufferPointer(rebasing: line.dropFirst(name.count))
        if rest.first == UInt8(ascii: " ") { rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst()) }
        return rest
    }

    /// A decimal number spelled by all of `bytes`, or nil.
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 19 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// The string value of `"key":"…"` in a control event's JSON (offsets need no escapes).
    static func stringField(_ key: String, in json: UnsafeRawBufferPointer) -> String? {
        let marker = Array("\"\(key)\":\"".utf8)
        guard json.count > marker.count else { return nil }
        var index = 0
        while index + marker.count <= json.count {
            if json[index..<index + marker.count].elementsEqual(marker) {
                let from = index + marker.count
                guard let end = json[from...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
                return String(decoding: json[from..<end], as: UTF8.self)
            }
            index += 1
        }
        return nil
    }

    /// Whether the control JSON says `"key":true`.
    static func flag(_ key: String, in json: UnsafeRawBufferPointer) -> Bool {
        let marker = Array("\"\(key)\":true".utf8)
        guard json.count >= marker.count else { return false }
        return (0...(json.count - marker.count)).contains { json[$0..<$0 + marker.count].elementsEqual(marker) }
    }
}
