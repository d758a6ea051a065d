/// Reads the `:status` of an HTTP/2 response header block (RFC 7541) without a full HPACK
/// decoder. The fuzzer's opening sets the header table size to 0, so the field is either an
/// index into the static table or a literal whose value is three digits, maybe Huffman-coded
/// (the codes for digits are the 5- and 6-bit ones of RFC 7541 Appendix B).
public enum HPACKStatus {
    /// Static table entries 8–14 are `:status` 200, 204, 206, 304, 400, 404, 500.
    static let staticStatuses = [8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500]

    /// The status in a HEADERS frame's payload, nil if it cannot be read this simply.
    public static func status(headersPayload payload: [UInt8], flags: UInt8) -> Int? {
        var block = payload[...]
        var padding = 0
        if flags & HTTP2Wire.padded != 0 {
            guard let pad = block.first else { return nil }
            padding = Int(pad)
            block = block.dropFirst()
        }
        if flags & HTTP2Wire.priorityFlag != 0 { block = block.dropFirst(5) }
        guard block.count >= padding else { return nil }
        var reader = Reader(bytes: Array(block.dropLast(padding)))
        return reader.status()
    }

    struct Reader {
        var bytes: [UInt8]
        var position = 0

        mutating func integer(prefixBits: Int) -> Int? {
            guard position < bytes.count else { return nil }
            let limit = (1 << prefixBits) - 1
            var value = Int(bytes[position]) & limit
            position += 1
            guard value == limit else { return value }
            var shift = 0
            while position < bytes.count, shift < 28 {
                let byte = bytes[position]
                position += 1
                value += Int(byte & 0x7F) << shift
                shift += 7
                if byte & 0x80 == 0 { return value }
            }
            return nil
        }

        mutating func string() -> [UInt8]? {
            guard position < bytes.count else { return nil }
            let huffman = bytes[position] & 0x80 != 0
            guard let length = integer(prefixBits: 7), position + length <= bytes.count else { return nil }
            let raw = Array(bytes[position..<(position + length)])
            position += length
            return huffman ? HPACKStatus.huffmanDigits(raw) : raw
        }

        mutating func status() -> Int? {
            while position < bytes.count {
                let first = bytes[position]
                if first & 0xE0 == 0x20 {  // dynamic table size update
                    guard integer(prefixBits: 5) != nil else { return nil }
                    continue
                }
                if first & 0x80 != 0 {
                    guard let index = integer(prefixBits: 7) else { return nil }
                    return staticStatuses[index]
                }
                guard let index = integer(prefixBits: first & 0xC0 == 0x40 ? 6 : 4) else { return nil }
                if index == 0 {
                    guard string() == Array(":status".utf8) else { return nil }
                } else if staticStatuses[index] == nil {
                    return nil
                }
                guard let value = string() else { return nil }
                return Int(String(decoding: value, as: UTF8.self))
            }
            return nil
        }
    }

    /// Decodes a Huffman string made of decimal digits; other symbols end the decoding.
    static func huffmanDigits(_ bytes: [UInt8]) -> [UInt8] {
        var bits: [Bool] = []
        for byte in bytes { for shift in (0..<8).reversed() { bits.append(byte >> UInt8(shift) & 1 == 1) } }
        func value(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= bits.count else { return nil }
            return bits[at..<(at + count)].reduce(0) { $0 << 1 | ($1 ? 1 : 0) }
        }
        var out: [UInt8] = []
        var at = 0
        while let five = value(at, 5) {
            if five <= 2 {
                out.append(UInt8(ascii: "0") + UInt8(five))
                at += 5
            } else if let six = value(at, 6), (0x19...0x1F).contains(six) {
                out.append(UInt8(ascii: "3") + UInt8(six - 0x19))
                at += 6
            } else {
                break
            }
        }
        return out
    }
}
