/// HTTP/1.1 message framing for the fuzzer (RFC 9112 §6–7): correct and wrong
/// `Content-Length`, chunked bodies valid and broken, unknown transfer codings, bare-LF lines,
/// odd versions, `Expect`, truncation, abrupt close and drip-fed writes.
public enum FuzzFraming {
    /// A request before framing.
    public struct Message: Sendable {
        public var method: String
        public var target: [UInt8]
        public var fields: [FuzzHeaders.Field]
        public var body: [UInt8]
    }

    /// A framed request: the writes, how to wait, what it adds to the case.
    public struct Framed: Sendable {
        public var writes: [[UInt8]]
        public var wait: FuzzCase.Wait
        public var tags: [String]
        public var rejection: FuzzCase.Rejection?
        /// 5xx statuses RFC 9110/9112 recommend for this framing (501 for an unknown
        /// transfer coding, 505 for an unsupported version), so not findings.
        public var tolerated5xx: Set<Int>
    }

    static let crlf: [UInt8] = [0x0D, 0x0A]

    /// The request line and header block with `lineEnd` after each line.
    static func head(_ message: Message, version: String, extra: [FuzzHeaders.Field], lineEnd: [UInt8] = crlf) -> [UInt8] {
        var out = Array(message.method.utf8) + [0x20] + message.target
        if !version.isEmpty { out += [0x20] + Array(version.utf8) }
        out += lineEnd
        for (name, value) in message.fields + extra { out += name + Array(": ".utf8) + value + lineEnd }
        return out + lineEnd
    }

    /// `body` as chunks of random sizes, with optional extensions and trailer.
    static func chunked(_ body: [UInt8], _ random: inout FuzzRandom) -> [UInt8] {
        var out: [UInt8] = []
        var rest = body[...]
        while !rest.isEmpty {
            let size = min(rest.count, random.int(in: 1...max(1, rest.count)))
            let hex = String(size, radix: 16, uppercase: random.chance(0.5))
            out += Array(hex.utf8) + (random.chance(0.1) ? Array(";ext=1".utf8) : []) + crlf
            out += rest.prefix(size) + crlf
            rest = rest.dropFirst(size)
        }
        out += Array("0".utf8) + crlf
        if random.chance(0.1) { out += Array("X-Trailer: t".utf8) + crlf }
        return out + crlf
    }

    /// Frames `message` one way or another.
    public static func frame(_ message: Message, _ random: inout FuzzRandom) -> Framed {
        let body = message.body
        let cl: (String) -> FuzzHeaders.Field = { (Array("Content-Length".utf8), Array($0.utf8)) }
        let te: (String) -> FuzzHeaders.Field = { (Array("Transfer-Encoding".utf8), Array($0.utf8)) }
        let plain = head(message, version: "HTTP/1.1", extra: body.isEmpty && random.chance(0.7) ? [] : [cl(String(body.count))]) + body
        var framed = Framed(writes: [plain], wait: .answer(responses: 1), tags: ["content-length"], rejection: nil, tolerated5xx: [])
        switch random.below(100) {
        case 0..<52:
            break
        case 52..<60:
            framed.writes = [head(message, version: "HTTP/1.1", extra: [te("chunked")]) + chunked(body, &random)]
            framed.tags = ["chunked"]
        case 60..<66:
            let size = random.pick(["-3", "ffffffffffffffffff", "zz", "0x10", " 5", "", "7fffffffffffffff", "1;", "5\r\nabc"])
            framed.writes = [head(message, version: "HTTP/1.1", extra: [te("chunked")]) + Array(size.utf8) + crlf + body + crlf + Array("0\r\n\r\n".utf8)]
            framed.tags = ["chunked-bad-size"]
            // A size past the body limit (7fff…) is refusable at once, like a huge Content-Length.
        case 66..<68:
            // The chunk is longer than its size line says.
            framed.writes = [head(message, version: "HTTP/1.1", extra: [te("chunked")]) + Array("2\r\nabcdef\r\n0\r\n\r\n".utf8)]
            framed.tags = ["chunked-overrun"]
        case 68..<70:
            framed.writes = [head(message, version: "HTTP/1.1", extra: [te("chunked")]) + Array("3\r\nabc\r\n".utf8)]
            framed.wait = .linger(.milliseconds(300))
            framed.tags = ["chunked-unterminated"]
        case 70..<72:
            framed.writes = [head(message, version: "HTTP/1.1", extra: [cl(String(body.count))], lineEnd: [0x0A]) + body]
            framed.tags = ["bare-lf"]
        case 72..<76:
            let coding = random.pick(["xchunked", "gzip, chunked", "chunked, gzip", "identity", "chunked, chunked", "CHUNKED", "chunked\u{0B}"])
            var extra = [te(coding)]
            if random.chance(0.3) { extra.append(cl(String(body.count))) }
            framed.writes = [head(message, version: "HTTP/1.1", extra: extra) + chunked(body, &random)]
            framed.tags = ["transfer-encoding"]
            framed.tolerated5xx = [501]
        case 76..<79:
            if body.count > 1 {
                framed.writes = [head(message, version: "HTTP/1.1", extra: [cl(String(body.count / 2))]) + body]
                framed.tags = ["content-length-short"]
            }
        case 79..<81:
            framed.writes = [head(message, version: "HTTP/1.1", extra: [cl(String(body.count + 10))]) + body]
            framed.wait = .linger(.milliseconds(300))
            framed.tags = ["content-length-long"]
        case 81..<84:
            let value = random.pick(["-5", "abc", "5, 6", "+5", "0x10", "1e3"])
            framed.writes = [head(message, version: "HTTP/1.1", extra: [cl(value)]) + body]
            framed.tags = ["content-length-invalid"]
            framed.rejection = .init("Content-Length \(value)")
        case 84..<85:
            framed.writes = [head(message, version: "HTTP/1.1", extra: [cl(random.pick(["99999999999999999999", "9223372036854775807", "4294967296"]))]) + body]
            // Past the node's body limit: the server knows at once that it will refuse the body
            // (413), so waiting for it is a hang.
            framed.tags = ["content-length-huge"]
        case 85..<87:
            framed.writes = [head(message, version: "HTTP/1.1", extra: [cl(String(body.count)), cl(String(body.count + 1))]) + body]
            framed.tags = ["content-length-duplicate"]
            framed.rejection = .init("two different Content-Length values")
        case 87..<89:
            framed.writes = [head(message, version: "HTTP/1.1", extra: [cl(String(body.count)), (Array("Expect".utf8), Array(random.pick(["100-continue", "garbage"]).utf8))]) + body]
            framed.tags = ["expect"]
        case 89..<92:
            let version = random.pick(["HTTP/1.0", "HTTP/2.0", "HTTP/9.9", "HTTP/1.1x", "", "http/1.1", "HTTP/1.1 extra"])
            framed.writes = [head(message, version: version, extra: [cl(String(body.count))]) + body]
            framed.tags = ["version"]
            framed.tolerated5xx = [505]
            // Only HTTP/1.0 is a request a server must answer; for the rest a close is as good.
            if version != "HTTP/1.0" { framed.wait = .linger(.milliseconds(300)) }
        case 92..<95:
            let cut = random.below(max(1, plain.count))
            framed.writes = [Array(plain.prefix(cut))]
            framed.wait = .linger(.milliseconds(200))
            framed.tags = ["truncated"]
        case 95..<97:
            framed.wait = .none
            framed.tags = ["abrupt-close"]
        default:
            if plain.count <= 2048 {
                var writes: [[UInt8]] = []
                var rest = plain[...]
                while !rest.isEmpty {
                    let n = random.int(in: 1...16)
                    writes.append(Array(rest.prefix(n)))
                    rest = rest.dropFirst(n)
                }
                framed.writes = writes
                framed.tags = ["drip"]
            }
        }
        return framed
    }
}
