/// Validation and one-level flattening of JSON bodies (protocol §9).
///
/// A strict RFC 8259 scanner over bytes: it checks syntax and UTF-8 without building values,
/// and reports where the top-level array's elements are, which is all flattening needs.
public enum JSONMessages {
    /// Nesting deeper than this is rejected instead of risking the stack.
    public static let maxDepth = 512

    /// The messages a JSON body stores: the elements of a top-level array (one level only),
    /// or the single value otherwise, framed as a stream stores them. Throws `invalidJSON`
    /// on malformed input. `[]` yields no messages; POST rejects that, PUT accepts it (an
    /// empty stream).
    ///
    /// One pass: each message is copied once, as the scan finds it, into a buffer reserved
    /// at the largest size the framing can reach (every message takes at least one byte and
    /// a separator of the body, so at most `(n + 1) / 2` messages, each 4 length bytes more).
    /// Pages of the reservation that are never written are never touched, so memory is the
    /// framed output, and there is no second scan on the append path.
    public static func flatten(_ body: [UInt8]) throws(ModelError) -> FramedMessages {
        var messages = FramedMessages()
        messages.reserveCapacity(body.count + 4 * ((body.count + 1) / 2) + 4)
        try body.withUnsafeBufferPointer { buffer throws(ModelError) in
            try forEachMessage(body) { range in messages.append(buffer[range]) }
        }
        return messages
    }

    /// Calls `body` with the byte range of each message of a JSON document as the scan finds
    /// it; throws at the first malformed byte (callers discard what they were given then).
    static func forEachMessage(_ document: [UInt8], _ body: (Range<Int>) -> Void) throws(ModelError) {
        try document.withUnsafeBufferPointer { buffer throws(ModelError) in
            var scanner = Scanner(bytes: buffer)
            scanner.skipWhitespace()
            if scanner.peek == UInt8(ascii: "[") {
                scanner.index += 1
                scanner.skipWhitespace()
                if scanner.peek == UInt8(ascii: "]") {
                    scanner.index += 1
                } else {
                    while true {
                        scanner.skipWhitespace()
                        let start = scanner.index
                        try scanner.value(depth: 1)
                        body(start..<scanner.index)
                        scanner.skipWhitespace()
                        guard let next = scanner.peek else { throw invalid("unterminated array") }
                        scanner.index += 1
                        if next == UInt8(ascii: "]") { break }
                        guard next == UInt8(ascii: ",") else { throw invalid("expected , or ] in array") }
                    }
                }
            } else {
                let start = scanner.index
                try scanner.value(depth: 0)
                body(start..<scanner.index)
            }
            scanner.skipWhitespace()
            guard scanner.index == buffer.count else { throw invalid("trailing characters after JSON value") }
        }
    }

    /// Whether `body` is one well-formed JSON value.
    public static func isValid(_ body: [UInt8]) -> Bool {
        body.withUnsafeBufferPointer { buffer in
            var scanner = Scanner(bytes: buffer)
            scanner.skipWhitespace()
            do { try scanner.value(depth: 0) } catch { return false }
            scanner.skipWhitespace()
            return scanner.index == buffer.count
        }
    }

    static func invalid(_ why: String) -> ModelError { ModelError(.invalidJSON, "invalid JSON: \(why)") }

    struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { index += 1 }
        }

        mutating func value(depth: Int) throws(ModelError) {
            guard depth <= JSONMessages.maxDepth else { throw invalid("nesting too deep") }
            guard let b = peek else { throw invalid("unexpected end of input") }
            switch b {
            case UInt8(ascii: "{"):
                index += 1
                skipWhitespace()
                if peek == UInt8(ascii: "}") { index += 1; return }
                while true {
                    skipWhitespace()
                    guard peek == UInt8(ascii: "\"") else { throw invalid("expected a string key") }
                    try string()
                    skipWhitespace()
                    guard peek == UInt8(ascii: ":") else { throw invalid("expected :") }
                    index += 1
                    skipWhitespace()
                    try value(depth: depth + 1)
                    skipWhitespace()
                    guard let next = peek else { throw invalid("unterminated object") }
                    index += 1
                    if next == UInt8(ascii: "}") { return }
                    guard next == UInt8(ascii: ",") else { throw invalid("expected , or } in object") }
                }
            case UInt8(ascii: "["):
                index += 1
                skipWhitespace()
                if peek == UInt8(ascii: "]") { index += 1; return }
                while true {
                    skipWhitespace()
                    try value(depth: depth + 1)
                    skipWhitespace()
                    guard let next = peek else { throw invalid("unterminated array") }
                    index += 1
                    if next == UInt8(ascii: "]") { return }
                    guard next == UInt8(ascii: ",") else { throw invalid("expected , or ] in array") }
                }
            case UInt8(ascii: "\""):
                try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default:
                try number()
            }
        }

        mutating func literal(_ word: StaticString) throws(ModelError) {
            let count = word.utf8CodeUnitCount
            guard bytes.count - index >= count else { throw invalid("bad literal") }
            for i in 0..<count where bytes[index + i] != word.utf8Start[i] { throw invalid("bad literal") }
            index += count
        }

        mutating func digits() -> Int {
            let start = index
            while let b = peek, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }

        mutating func number() throws(ModelError) {
            if peek == UInt8(ascii: "-") { index += 1 }
            guard let first = peek, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { throw invalid("bad value") }
            if first == UInt8(ascii: "0") { index += 1 } else { _ = digits() }
            if peek == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw invalid("bad fraction") }
            }
            if let e = peek, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                index += 1
                if let sign = peek, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw invalid("bad exponent") }
            }
        }

        mutating func string() throws(ModelError) {
            index += 1  // opening quote
            while true {
                guard let b = peek else { throw invalid("unterminated string") }
                switch b {
                case UInt8(ascii: "\""):
                    index += 1
                    return
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let e = peek else { throw invalid("unterminated escape") }
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                         UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        continue
                    case UInt8(ascii: "u"):
                        guard bytes.count - index >= 4 else { throw invalid("bad unicode escape") }
                        for _ in 0..<4 {
                            guard isHex(bytes[index]) else { throw invalid("bad unicode escape") }
                            index += 1
                        }
                    default:
                        throw invalid("bad escape")
                    }
                case 0x00..<0x20:
                    throw invalid("control character in string")
                case 0x20..<0x80:
                    index += 1
                default:
                    try utf8Scalar()
                }
            }
        }

        private func isHex(_ b: UInt8) -> Bool {
            (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
                || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"))
        }

        /// One multi-byte UTF-8 sequence, rejecting overlongs, surrogates and values past U+10FFFF.
        mutating func utf8Scalar() throws(ModelError) {
            let b0 = bytes[index]
            let length: Int
            var scalar: UInt32
            switch b0 {
            case 0xC2...0xDF: length = 2; scalar = UInt32(b0 & 0x1F)
            case 0xE0...0xEF: length = 3; scalar = UInt32(b0 & 0x0F)
            case 0xF0...0xF4: length = 4; scalar = UInt32(b0 & 0x07)
            default: throw invalid("invalid UTF-8")
            }
            guard bytes.count - index >= length else { throw invalid("truncated UTF-8") }
            for i in 1..<length {
                let b = bytes[index + i]
                guard b & 0xC0 == 0x80 else { throw invalid("invalid UTF-8") }
                scalar = scalar << 6 | UInt32(b & 0x3F)
            }
            let minimum: UInt32 = length == 3 ? 0x800 : 0x10000
            if length > 2 && scalar < minimum { throw invalid("overlong UTF-8") }
            if scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) { throw invalid("invalid UTF-8 scalar") }
            index += length
        }
    }
}
